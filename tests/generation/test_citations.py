from django_rag.generation.citations import cited_numbers, remove_invalid_citations


def test_cited_numbers_in_order_of_first_citation():
    assert cited_numbers("A [2]. B [1][2]. C [3, 1].", 3) == [2, 1, 3]


def test_out_of_range_and_zero_are_ignored():
    assert cited_numbers("A [7]. B [0]. C [2].", 3) == [2]


def test_no_citations():
    assert cited_numbers("No brackets here, or [not a number].", 3) == []


def test_invalid_citations_are_removed_from_the_text():
    assert remove_invalid_citations("Twenty days [1][7]. Also [7].", 2) == "Twenty days [1]. Also."
    assert remove_invalid_citations("Both [1, 9].", 2) == "Both [1]."
    assert remove_invalid_citations("Fine [2].", 2) == "Fine [2]."
