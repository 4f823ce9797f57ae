"""The operator console: the live queue, followed transfers, returned calls, operator state and wrap-up.

The console never talks to a telephone itself. It feeds the engine operator
inputs (``OperatorAnswered``, ``OperatorTransfer``, ``OperatorToQueue``) through
the call runner, and hands the resulting actions to the call's adapter through
one interface, :class:`switchboard.console.control.CallControl`.
"""
