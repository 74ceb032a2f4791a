"""The Pusher: TFX's Pusher with an executor that publishes TF Serving versions atomically,
with warmup requests, and keeps the last K."""
