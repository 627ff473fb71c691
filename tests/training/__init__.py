"""Training tests (the chat-server stand-in lives in tests/factories/chat.py)."""
