"""The provider conformance suite (``contract.py``) and its runs against each provider."""
