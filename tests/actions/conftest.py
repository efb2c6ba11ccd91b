"""Fixtures of the receiver's tests; they live in tests.actions.helpers beside the helpers they use."""

from tests.actions.helpers import node, start_receiver, token_file

__all__ = ["node", "start_receiver", "token_file"]
