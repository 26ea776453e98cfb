from streampro.timing import num_turns, response_time, turn_label, turn_of


def test_turn_labels_follow_the_time_rule():
    assert turn_label(0) == "<0s-1s>"
    assert turn_label(4) == "<4s-5s>"
    assert turn_label(3, fps=2) == "<1.5s-2s>"


def test_turn_of_and_response_time():
    assert turn_of(0) == 0
    assert turn_of(2.999999999999) == 3  # float noise stays in its whole second
    assert turn_of(2.5) == 2
    assert response_time(7) == 7.0
    assert turn_of(1.5, fps=2) == 3


def test_num_turns():
    assert num_turns(25) == 25
    assert num_turns(24.2) == 25
