"""The stream's logic, free of Faust: messages in; rows, outputs, state and acks out.

One job per module: `messages` (what goes in and out), `parse` (message -> event in its
right place, re-routed, or dead letter), `dead_letters` (a refused message -> a bounded dead
letter), `reorder` (event-time buffer and watermark), `timers` (absence timers),
`state_cache` (per-customer state and its record cache), `journal` (rebuilding a state
after a step that raised), `failures` (what to say about it), `emit` (outputs -> rows and
messages), and `core`, the StreamProcessor composing them in the order of work.
"""

from streams.processor.core import StreamProcessor
from streams.processor.emit import state_row
from streams.processor.messages import BatchResult, InMessage, OutMessage, StateFlush

__all__ = ["BatchResult", "InMessage", "OutMessage", "StateFlush", "StreamProcessor",
           "state_row"]
