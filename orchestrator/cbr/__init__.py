"""Talking to CBR: request signing, authentication, the async client, its models and errors."""
