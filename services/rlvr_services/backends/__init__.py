"""Model backends of the model-based verifiers: named in the server's settings, never in a request.

``config`` holds the settings models, ``limits`` the concurrency/rate limits and the circuit breaker,
``openai_chat`` the OpenAI-compatible chat client, ``reward_servers`` the served reward-model wire
shapes, ``local`` the in-process transformers models, and ``pool`` the process-wide set of them.
"""
