"""The contract suite's pytest files: thin checks over :mod:`mock_api.contract`.

The checks' machinery (targets, the independent billing rule, lifecycle
invariants, the budget, the schemathesis set-up) is a library inside the
package, :mod:`mock_api.contract`; this folder holds only what pytest
collects. A wheel installs it as ``mock_api.contract.suite``, which is how
``wavespeed-mock verify`` finds it without a checkout.
"""
