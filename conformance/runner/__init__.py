"""The runner wing: the pytest plugin, the per-run session, request generation, the packaged suite,
and the offline judge of recorded traffic. Live runs and recorded traffic meet at exchanges here."""
