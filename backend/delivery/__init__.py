"""Alert notifications: the channels (webhook, Slack, e-mail) and the outbox that retries them
without ever blocking ingest or evaluation.

May import: everything before it (``ingest``, ``store``, ``signals``). Never serving.
"""
