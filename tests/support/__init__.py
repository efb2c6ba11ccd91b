"""Helpers the test suites share: free ports, child processes, waiting on conditions."""
