from voice_agent.pipeline.tts import SentenceAudioCache, split_sentences
from voice_agent.pipeline.turn_taking import (
    CodeSlot,
    is_acknowledgement,
    is_backchannel,
    is_own_echo,
    partial_code,
    turn_is_complete,
)

ORDER = CodeSlot(name="order_id", pattern=r"^[0-9]{6}$", length=6)


def test_partial_order_number_is_held_only_while_the_number_is_asked_for():
    assert partial_code("four eight one", "order_id", ORDER)
    assert partial_code("it's 4, 8, 1, 5", "order_id", ORDER)
    assert not partial_code("four eight one five two six", "order_id", ORDER)
    assert not partial_code("four eight one", "reason", ORDER)  # another question
    assert not partial_code("I don't have it", "order_id", ORDER)  # no digits at all
    assert not partial_code("four eight one", "order_id", None)


def test_backchannels_are_only_non_answers():
    assert is_backchannel("Uh-huh.")
    assert is_backchannel("mm hmm")
    for heard in ("MMM.", "Hmmm.", "Mm-hmm.", "Mhm.", "Oh.", "Uh huh.", "Mm-huh."):  # as Whisper
        assert is_backchannel(heard), heard
    for heard in ("Uh-oh.", "So.", "Wow."):  # "uh-huh", as Whisper read it now and then
        assert is_backchannel(heard), heard
    assert is_backchannel("And Mm-hmm.")  # a slowed "mm-hmm", as Whisper read it now and then
    for heard in ("Thank you.", "Thanks.", "Mm-hmm, thank you."):  # over "Your return number is"
        assert is_backchannel(heard), heard
    assert not is_backchannel("Okay, thanks.")  # may answer "shall I open the return?"
    assert not is_backchannel("No, thank you.")
    assert not is_backchannel("And a refund.")
    assert not is_backchannel("So I want a refund.")
    assert not is_backchannel("Uh-uh.")  # "no"
    assert not is_backchannel("yeah")  # may answer "shall I open the return?"
    assert not is_backchannel("uh, I want a refund")
    assert not is_backchannel("")


def test_acknowledgements_are_acknowledging_words_and_backchannels_only():
    for heard in ("Okay.", "OK.", "All right.", "Alright.", "Right.", "Got it.", "I see."):
        assert is_acknowledgement(heard), heard
    # with thanks and backchannels, as Whisper read an "uh-huh" over a greeting's echo
    for heard in ("All right. Thanks.", "Okay, thanks.", "Mm-hmm, okay.", "Oh, I see."):
        assert is_acknowledgement(heard), heard
    assert not is_acknowledgement("Mm-hmm.")  # a backchannel, but no acknowledging word
    for heard in ("Yes.", "Okay, yes.", "No, that's not right.", "Right, I want a refund."):
        assert not is_acknowledgement(heard), heard  # answers, and requests
    assert not is_acknowledgement("All.")  # half of "all right" is nothing
    assert not is_acknowledgement("")


def test_words_only_of_the_prompt_and_backchannels_are_its_own_echo():
    greeting = "Hi, thanks for calling the returns and refunds line. How can I help you today?"
    # as Whisper wrote the greeting's echo, 0.7 s late, in turns an "uh-huh" or a noise began
    for heard in ("Mm-hmm. Thanks.", "Oh, thanks.", "Hi. Thanks for", "Mm-huh. Thanks for-"):
        assert is_own_echo(heard, greeting), heard
    assert is_own_echo("Calling the returns and returns.", greeting)
    # its words cut short
    for heard in ("Calling the returns and re-", "Calling the return.", "Hi, thank you."):
        assert is_own_echo(heard, greeting), heard
    for heard in ("Hi, thanks for coming.", "All right. Thanks.", "Five.", "I want a refund.", ""):
        assert not is_own_echo(heard, greeting), heard
    assert not is_own_echo("Hi, thanks for watching.", greeting)
    assert not is_own_echo("Mm-hmm. Thanks for calling.", "What is your order number?")


def test_sentences_split_for_caching():
    assert split_sentences("Done. Your number is W, 1, 0. Goodbye!") == [
        "Done.",
        "Your number is W, 1, 0.",
        "Goodbye!",
    ]
    assert split_sentences("To confirm: the lamp, because it broke. OK?") == [
        "To confirm:",
        "the lamp, because it broke.",  # too short a clause to end at the comma
        "OK?",
    ]


def test_a_long_sentence_is_spoken_in_clauses_before_a_conjunction():
    text = "you're returning the headphones from order 7, 3, 5, 9, because it arrived damaged."
    assert split_sentences(text) == [
        "you're returning the headphones from order 7, 3, 5, 9,",
        "because it arrived damaged.",
    ]
    assert split_sentences(
        "Order 4, 8, 1 was already delivered, so it can't be cancelled, but I can start a return."
    ) == [
        "Order 4, 8, 1 was already delivered,",
        "so it can't be cancelled,",
        "but I can start a return.",
    ]
    for whole in (
        "I can help with returns, refunds, exchanges and order status.",  # a list
        "Your return number is W, 1, 0, 0, 0, 4.",
        "Hi, thanks for calling the returns and refunds line.",
    ):
        assert split_sentences(whole) == [whole]


def test_sentence_cache_is_a_bounded_lru():
    cache = SentenceAudioCache(max_items=2)
    cache.put("a", b"1")
    cache.put("b", b"2")
    assert cache.get("a") == b"1"  # "a" is now the most recent
    cache.put("c", b"3")
    assert cache.get("b") is None and cache.get("a") == b"1" and cache.get("c") == b"3"
    assert cache.hits == 3 and cache.misses == 1


def test_an_early_transcript_is_answered_only_when_it_reads_as_finished():
    assert turn_is_complete("Yes, that's right.", None, ORDER)
    assert turn_is_complete("They arrived damaged.", "reason", ORDER)
    assert turn_is_complete("It's 7 3 5 9 0 2.", "order_id", ORDER)
    assert turn_is_complete("Can I talk to someone?", None, ORDER)
    assert not turn_is_complete("I want to return the", None, ORDER)  # no full stop
    assert not turn_is_complete("I want to return the.", None, ORDER)  # dangling word
    assert not turn_is_complete("My order number is...", None, ORDER)  # trailing off
    assert not turn_is_complete("My order number is 4 8 1.", "order_id", ORDER)  # partial
    assert turn_is_complete("My order number is 4 8 1.", "reason", ORDER)  # not asked for
    assert not turn_is_complete("Uh-huh.", None, ORDER)
    # Over a prompt it is a whole turn: the prompt goes on. A trailing "uh" is still going on.
    assert turn_is_complete("Uh-huh.", None, ORDER, over_prompt=True)
    assert turn_is_complete("Mm-hmm.", "order_id", ORDER, over_prompt=True)
    assert not turn_is_complete("Uh.", None, ORDER, over_prompt=True)
    assert not turn_is_complete("Mm-hmm", None, ORDER, over_prompt=True)
    assert not turn_is_complete("", None, ORDER)


def test_a_bare_no_or_hello_to_an_open_question_is_the_start_of_the_answer():
    assert not turn_is_complete("No.", None, ORDER, open_question=True)
    assert not turn_is_complete("Hello?", None, ORDER, open_question=True)
    assert not turn_is_complete("Yeah, hi.", None, ORDER, open_question=True)
    assert turn_is_complete("No, I need a refund.", None, ORDER, open_question=True)
    assert turn_is_complete("Hi, is this the returns line?", None, ORDER, open_question=True)
    # To a yes-or-no question ("Shall I open the return?") they are the whole answer.
    assert turn_is_complete("No.", None, ORDER)
    assert turn_is_complete("Yes.", None, ORDER)
