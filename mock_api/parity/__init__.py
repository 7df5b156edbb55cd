"""Parity with the real service, recorded and diffed.

Fixed scenarios (:mod:`mock_api.parity.scenarios`) drive a target and record
what it answers, sanitised (:mod:`mock_api.parity.sanitise`), into one JSON
snapshot per scenario (:mod:`mock_api.parity.snapshots`); ``parity check``
runs them again and compares path by path (:mod:`mock_api.parity.diff`).
"""
