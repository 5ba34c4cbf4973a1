"""Every actor of the bot, its messages, and the pure state each actor owns."""
