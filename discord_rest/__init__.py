"""Talking to Discord's REST API from actor processes: requests, rate limits, and message shaping."""
