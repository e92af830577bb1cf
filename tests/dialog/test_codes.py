"""Order numbers and other codes out of what a caller said, as ASR wrote it
(``voice_agent.dialog.codes``)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voice_agent.dialog.codes import Reading, admits_letters, find_code, read_back, read_code, spell
from voice_agent.testing.dialogs import LETTER_PATTERN

SIX = r"^[0-9]{6}$"


@pytest.mark.parametrize(
    ("said", "code"),
    [
        ("481526", "481526"),
        ("4 8 1 5 2 6", "481526"),
        ("4, 8, 1, 5, 2, 6.", "481526"),
        ("4-8-1-5-2-6", "481526"),
        ("481-526", "481526"),
        ("four eight one five two six", "481526"),
        ("Four, eight, one, five, two, six.", "481526"),
        ("for ate won five to six", "481526"),
        ("free one one nine tree six", "311936"),  # "three" without its /th/
        ("it's for 8 1 5 2 6", "481526"),
        ("forty eight fifteen twenty six", "481526"),
        ("four hundred eighty one five hundred twenty six", "481526"),
        ("four hundred and fifty six, one two three", "456123"),
        ("A hundred and twenty three, four five six.", "123456"),
        # A comma ASR drops after the hundreds: the code's length decides.
        ("four hundred and fifty, one two three", "450123"),
        ("nine hundred, one two three", "900123"),
        ("four eight two nought one five", "482015"),
        ("seven three five nine oh two", "735902"),
        ("seven three five nine o two", "735902"),
        ("nine one two three double four", "912344"),
        ("triple seven one two three", "777123"),
        ("double oh one two three four", "001234"),
        ("four eight one, uh, five two six", "481526"),
        ("my order number is 4 8 1 5 2 6 thanks", "481526"),
        ("I want to return order 735902 please", "735902"),
        ("I'm calling for order 7 3 5 9 0 2", "735902"),
        ("three oh seven seven five five", "307755"),
        ("seven three five nine owe two", "735902"),
        # "four" with its "f" lost on the phone band (Whisper on a bench voice)
        ("Or 9 2, or eight 0.", "492480"),
        ("Or one one six oh three.", "411603"),
        # "eight" run into the ten before it
        ("90, 80 day, 22.", "908822"),
        ("ninety, eighty day, twenty two", "908822"),
        ("It's 7-3-5-9-0-2.", "735902"),
        ("735-902", "735902"),
        ("O2 46 61.", "024661"),  # Whisper glues a spoken "oh" to the next digit
        ("O2 4, double 6 1.", "024661"),
        ("L 6 0 1 16", "060116"),  # tiny.en writes a spoken "oh" as "L" too
        ("Oh, four one, double eight oh.", "041880"),
        ("oh oh oh, oh oh oh", "000000"),
        ("Double 5 5, Double 01.", "555001"),  # only the first digit of "01" is doubled
        ("Double 27 602.", "227602"),
        ("It's 220417. No wait, 220471.", "220471"),  # a correction comes last
        # said twice in one breath, or Whisper looping on it
        ("4 8 1 5 2 6 4 8 1 5 2 6", "481526"),
        ("908-822-908-822.", "908822"),
        ("481481", "481481"),  # a code that is a group said twice stays whole
    ],
)
def test_order_numbers(said, code):
    assert find_code(said, SIX) == (code, None)


@pytest.mark.parametrize(
    ("said", "heard"),
    [
        ("4 8 1", "481"),
        # half a number: its "oh"s inside and at its end are zeros, not at its start
        ("Eight oh oh.", "800"),
        ("4 8 oh 1", "4801"),
        ("Oh, 4 8 1.", "481"),
        ("4 8 1 to", "481"),
        ("4 8 1 5 2 6 7", "4815267"),
        ("4 8 1 5 2 6 4 8 1 5 2 7", "481526481527"),  # not the same code twice
        ("I want to return it", None),
        ("I need two of them", None),  # "two" alone: one word, still a digit run of length 1
    ],
)
def test_no_order_number(said, heard):
    match, got = find_code(said, SIX)
    assert match is None
    if heard is not None:
        assert got == heard


@pytest.mark.parametrize(
    ("said", "reading"),
    [
        ("Oh, 4 8 1.", Reading(None, "481", 1)),
        ("Oh, 481", Reading(None, "481", 1)),  # tiny.en's "Oh four eight one." on the phone
        ("Oh oh 4 8", Reading(None, "48", 2)),
        ("Oh, uh, 4 8 1", Reading(None, "481", 1)),  # a filler between them
        ("Oh for 4 8 1", Reading(None, "481", 0)),  # not right before the digits
        ("Eight oh oh.", Reading(None, "800", 0)),  # at its end they are the number's
        ("Oh, 4 8 1 5 2 6.", Reading("481526", None, 0)),
    ],
)
def test_the_ohs_said_before_half_a_number_are_kept_aside(said, reading):
    assert read_code(said, SIX) == reading


def test_weak_words_are_not_digits_alone():
    # "to", "for", "oh" only count next to real digits
    assert find_code("I want to go for it oh well", SIX) == (None, None)
    assert find_code("one or two of them", SIX)[0] is None


@pytest.mark.parametrize(
    ("said", "code"),
    [
        ("A as in apple, B for boy, 1 2 3 4", "AB1234"),
        ("alpha bravo one two three four", "AB1234"),
        ("ab1234", "AB1234"),
        ("C like charlie 4 5 6 7 8 9", "C456789"),
    ],
)
def test_letters(said, code):
    assert find_code(said, r"^[A-Z]{1,2}[0-9]{4,6}$")[0] == code


@pytest.mark.parametrize(
    ("said", "code"),
    [
        # Letters said on their own, as tiny.en and base wrote them on the phone band.
        ("S B 0 8 4 5 6 2", "SB084562"),
        ("C, K, 6, 4, 6, 6, 6, 0.", "CK646660"),
        ("g l 291878", "GL291878"),
        ("It's AB 123456.", "AB123456"),
        ("CK 6 4 6 6 6 0", "CK646660"),
        ("R.T. 4 8 1 5 2 6", "RT481526"),
        ("Tee, are, four eight one five two six", "TR481526"),
        ("double you, B, 1 2 3 4 5 6", "WB123456"),
        ("R oh 1 2 3 4 5 6", "RO123456"),  # "oh" is O where the code wants a letter
        ("R T oh 1 2 3 4 5", "RT012345"),  # and 0 where it wants a digit
        # "as in": the word gives the letter, whatever the letter before it was heard as.
        ("See as in Zebra, be as in boy, 2 3 5 4 1 0.", "ZB235410"),
        ("G is in George. I was in Lucy, 2 9 1 8 7 8.", "GL291878"),
        ("S is in Sam. B is in Victor. Oh 8 4 5 6 2.", "SV084562"),
        ("As an apple, B for boy, 191672.", "AB191672"),
        ("X is an x-ray, Y as in yellow, 307770", "XY307770"),
        ("See isn't cat, k isn't king, 6 4 6 6 6 0.", "CK646660"),
        ("He is an Edward, F is in Frank, 2 0 3 5 5 7.", "EF203557"),
        ("You as an uncle, am as in Mary 7 5 0 3 1 8", "UM750318"),
        ("H is in Harry, Tay is in King, 86, 63, 68.", "HK866368"),
        ("B as in Boy, use an uncle, 8 0 3 5 2 0.", "BU803520"),
        ("Me and Victor, M. and Mary, oh, four two two three nine.", "VM042239"),
        ("L. M in Lucy, R. M in Robert, 64, 59, 89.", "LR645989"),
        ("He am in George, T am in Tom nine five one double nine seven.", "GT951997"),
        ("I am in John, I am in dog, 0 1 5, 3 4 3.", "JD015343"),
        ("F and in Frank, K and in King 3 5 0 4 9 5.", "FK350495"),
        # The "as in" word written as its letters: the first is the letter, the rest dropped.
        ("X is in X, R, M is in M, R, one eight nine eight three one.", "XM189831"),
        ("X is in X-ray, T is in P, R, 68, O2, O9.", "XP680209"),
        ("L is in L.C. E is in EdW, 766-593.", "LE766593"),
        ("T is in Zebor, N is in N. C 9 2 3 8 1 0.", "ZN923810"),
        ("S is in SAM. B is in Vater. Oh eight four five six two.", "SV084562"),
        ("C as in C, K, 6 4 6 6 6 0", "CK646660"),  # or the next letter, said alone
        # The word after "as in" lost: the letter said before it stands.
        ("C as in C, B as in, oh one oh seven four nine.", "CB010749"),
        ("Q as in queen, B as in... 1 2 3 4 5 6", "QB123456"),
        # A number word is not the word a letter is spelled with.
        ("R and double two eight three nine four.", "RN228394"),
        ("You as an uncle, W as in William, free double eight, three seven oh.", "UW388370"),
        # "N" said alone is written "and"; as a filler "and" comes first.
        ("And R double three four one nine six.", "NR334196"),
        ("B and 82, 82, 72.", "BN828272"),
        ("R and T, 4 8 1 5 2 6", "RT481526"),
        # NATO words and near spellings of them.
        ("Charlie Kilo, 6, 4, 6, 6, 6, oh.", "CK646660"),
        ("Charley Kilo 646660", "CK646660"),
        ("Gulf Lima, two nine one eight seven eight.", "GL291878"),
        ("X-ray X-ray 3 0 7 7 7 0", "XX307770"),
    ],
)
def test_letter_codes_in_every_form_asr_writes_them(said, code):
    assert find_code(said, LETTER_PATTERN) == (code, None)


@pytest.mark.parametrize(
    "said",
    [
        "C, B, 2 3 5 4 1",  # a digit short
        "Are you there? 1 2 3 4 5 6",  # "are you" ends the sentence before the digits
        "It is in my email, 1 2 3 4 5 6",
        "That is not right, 1 2 3 4 5 6",
        "The shoes and the boots, 1 2 3 4 5 6",  # "and" spells only after a short word
    ],
)
def test_no_letter_code(said):
    assert find_code(said, LETTER_PATTERN)[0] is None


def test_half_a_letter_code_keeps_its_zeros_but_not_its_letters_that_are_words():
    # bench.letter_codes: "a" there is a word as likely as a letter, left out as before
    assert find_code("F. R a 3 2 5 3 8 4.", LETTER_PATTERN) == (None, "FR325384")
    assert find_code("you have an uncle, two one oh, eight three", LETTER_PATTERN)[1] == "U21083"


def test_a_code_of_digits_reads_no_letters():
    # The same words, read for six digits: letters end a run, as before letter codes.
    assert find_code("S B 0 8 4 5 6 2", SIX) == ("084562", None)
    assert find_code("R oh 1 2 3 4 5", SIX)[0] == "012345"
    assert find_code("B, 1 2 3 4 5 6", SIX)[0] == "123456"


@pytest.mark.parametrize(
    ("pattern", "letters"),
    [
        (SIX, False),
        (r"\d{6}", False),
        (r"^[0-9]{4}-\d{2}$", False),
        (LETTER_PATTERN, True),
        (r"^WO-\d{4}$", True),
        (r"^\w{8}$", True),
        (r"^[a-z0-9]{6}$", True),
    ],
)
def test_which_patterns_admit_letters(pattern, letters):
    assert admits_letters(pattern) is letters


def test_spell_reads_char_by_char():
    assert spell("481526") == "4, 8, 1, 5, 2, 6"
    assert spell("WO-0042") == "W, O, 0, 0, 4, 2"


def test_read_back_gives_each_letter_its_word_and_digits_as_spelled():
    assert read_back("wo-0042") == "W as in Whiskey, O as in Oscar, 0, 0, 4, 2"
    assert read_back("XJ1") == "X as in X-ray, J as in Juliet, 1"
    assert read_back("481526") == spell("481526")


WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def speak(code: str, style: str) -> str:
    """How a caller (through ASR) may say a digit string."""
    if style == "digits":
        return " ".join(code)
    if style == "commas":
        return ", ".join(code) + "."
    if style == "words":
        return " ".join("oh" if d == "0" else WORDS[int(d)] for d in code)
    if style == "doubles":  # "double five" for a repeated digit
        out, i = [], 0
        while i < len(code):
            if i + 1 < len(code) and code[i] == code[i + 1]:
                out.append("double " + WORDS[int(code[i])])
                i += 2
            else:
                out.append(WORDS[int(code[i])])
                i += 1
        return " ".join(out)
    return code


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet="0123456789", min_size=6, max_size=6),
    st.sampled_from(["digits", "commas", "words", "doubles", "plain"]),
    st.sampled_from(["", "my order number is ", "it's ", "order "]),
)
def test_any_six_digit_number_in_any_style(code, style, prefix):
    assert find_code(prefix + speak(code, style) + " thanks", SIX)[0] == code
