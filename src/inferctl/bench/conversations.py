"""A small built-in synthetic conversation set (``--dataset synthetic``): multi-turn chats of everyday
assistant tasks, written for inferctl. They give chat-shaped traffic (a system prompt, earlier turns, varied
lengths) without downloading a dataset; each ends with the user turn the server must answer.
"""

from __future__ import annotations

SYSTEM = "You are a concise, helpful assistant."

CONVERSATIONS: tuple[tuple[tuple[str, str], ...], ...] = (
    (
        ("user", "What is the difference between a process and a thread?"),
        (
            "assistant",
            "A process has its own address space; threads share the address space of their process.",
        ),
        ("user", "So which one should a web server use to handle many slow clients?"),
    ),
    (("user", "Summarize the plot of a heist film in three sentences, without naming any real film."),),
    (
        ("user", "I have 3 apples, buy 7 more and give away half. How many do I have?"),
        ("assistant", "You have 5 apples."),
        ("user", "Now explain the steps as if I were eight years old."),
    ),
    (
        ("user", "Write a Python function that returns the n-th Fibonacci number iteratively."),
        (
            "assistant",
            "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a",
        ),
        ("user", "Add type hints and a docstring, and make it reject negative input."),
    ),
    (("user", "Give me a packing list for a three-day hiking trip in the mountains in early autumn."),),
    (
        ("user", "Translate 'the meeting is moved to Thursday afternoon' into French and German."),
        (
            "assistant",
            "French: La réunion est déplacée à jeudi après-midi. "
            "German: Das Meeting ist auf Donnerstagnachmittag verschoben.",
        ),
        ("user", "And into Spanish, formal register please."),
    ),
    (("user", "Explain what a Kubernetes Deployment does, then how it differs from a StatefulSet."),),
    (
        ("user", "Draft a polite email asking a colleague to review my pull request by Friday."),
        ("assistant", "Hi Sam, could you review my pull request #214 by Friday? Thanks a lot!"),
        ("user", "Make it a little warmer and mention that the change touches the billing code."),
    ),
    (("user", "List five ways to reduce the cost of running GPU servers in the cloud, with one line each."),),
    (
        ("user", "What causes the seasons on Earth?"),
        ("assistant", "The tilt of Earth's axis, which changes how directly sunlight hits each hemisphere."),
        ("user", "Then why is it not hottest on the longest day of the year?"),
    ),
    (("user", "Suggest a weekly vegetarian dinner plan with a shopping list grouped by aisle."),),
    (
        ("user", "Review this SQL: SELECT * FROM orders WHERE date > '2024-01-01' ORDER BY id"),
        ("assistant", "It works, but SELECT * fetches every column and the filter may not use an index."),
        ("user", "Rewrite it to fetch only id, customer_id and total, and suggest an index."),
    ),
)


def conversation_messages() -> list[list[dict[str, str]]]:
    """Every conversation as OpenAI chat messages, the system prompt first."""
    return [
        [{"role": "system", "content": SYSTEM}, *({"role": role, "content": text} for role, text in turns)]
        for turns in CONVERSATIONS
    ]
