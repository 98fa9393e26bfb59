"""calsyncd side by side with vdirsyncer 0.21 on real CalDAV servers (``python -m bench compare``).

Both tools sync the same data between a Radicale and a Xandikos server started here on free
loopback ports, alternating run by run; :mod:`bench.caldav.scenarios` says what is measured,
:mod:`bench.caldav.report` what the figures are held against.
"""
