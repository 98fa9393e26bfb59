"""The daemon (``calsyncd run``): a layer above :mod:`calsyncd.sync`.

- :mod:`~calsyncd.daemon.app` wires it together: task group, signals, reload, watchdog.
- :mod:`~calsyncd.daemon.supervisor` runs one worker per rule and settles each cycle's outcome;
  :mod:`~calsyncd.daemon.schedule` decides the next run (pure), :mod:`~calsyncd.daemon.mailbox`
  de-duplicates triggers, :mod:`~calsyncd.daemon.runtime` holds each rule's live state.
- :mod:`~calsyncd.daemon.reload` diffs configurations and debounces reloads;
  :mod:`~calsyncd.daemon.watch` watches the configuration folders.
- :mod:`~calsyncd.daemon.http` serves health, readiness, status, metrics and triggers;
  :mod:`~calsyncd.daemon.status` builds ``/status``, :mod:`~calsyncd.daemon.metrics` the
  Prometheus registry, :mod:`~calsyncd.daemon.clients` the per-connection HTTP clients.
- :mod:`~calsyncd.daemon.notify` speaks the systemd notify protocol.
"""
