"""Caller sentences of a returns hotline, synthesized, for WER on the agent's own domain.

``../shared/speech/en`` is 14 real utterances (151 words): one word moves its WER by 0.7
points, too coarse to choose between decoding settings. These sentences add ~500 words of
what callers of this hotline actually say, read by the bench's TTS voices (Piper joe at three
settings, espeak-ng if installed). Synthetic speech is easier than real speech in some ways and
harder in others (espeak-ng), so the bench reports this set apart from the real recordings.
"""

from __future__ import annotations

SENTENCES: tuple[str, ...] = (
    "Hi, I'd like to return a pair of headphones I bought last week.",
    "I want a refund for the jacket, it doesn't fit.",
    "Can I exchange these shoes for a bigger size?",
    "Where is my order? It was supposed to arrive on Monday.",
    "The blender arrived damaged, the lid is cracked.",
    "I never received my package.",
    "Yes, that's right.",
    "No, that's not what I said.",
    "I'd rather have store credit.",
    "Can I talk to a real person please?",
    "It's the wrong color, I ordered the blue one.",
    "How long does a refund take to show up on my card?",
    "I changed my mind, I don't want it anymore.",
    "Do I need the original receipt?",
    "The coffee maker stopped working after two days.",
    "I was charged twice for the same order.",
    "Can you send me a return label by email?",
    "It was a gift, so I don't have the receipt.",
    "I already shipped it back last Tuesday.",
    "When will I get my money back?",
    "Actually, make that an exchange instead.",
    "The price dropped the day after I bought it.",
    "I want to cancel my order before it ships.",
    "Sorry, could you repeat that?",
    "Just the lamp, not the whole order.",
    "It arrived yesterday but the box was empty.",
    "What is your return policy for electronics?",
    "I'm really frustrated, this is the third time I'm calling.",
    "The tracking number says it was delivered, but it wasn't.",
    "Can I drop it off at a store instead of mailing it?",
    "My daughter ordered it on my account by mistake.",
    "The size is too small and the sleeves are too short.",
    "I'd like to check the status of my refund.",
    "Okay, thank you, that's all I needed.",
    "Hold on, let me find the email.",
    "Is there a restocking fee?",
)
