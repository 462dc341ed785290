"""The player: a slider over a run's positions (snapshots, epochs or progress) with a Play
button, and the timer that redraws a part of a page while something moves.

Session state, for a player named ``key`` with position ``pos``: ``{key}_{pos}`` (the position
shown: an index from 0 over a range, else a value; only the player writes it), the slider
``{key}_{pos}_number`` over a range (it counts from 1) or ``{key}_{pos}_value`` over values,
``{key}_playing`` (animating), ``{key}_start`` and ``{key}_pause`` (Play and Pause, one at a
time, in a container keyed ``{key}_play``).

AppTest does not fire the timer (tests/test_browser_tour.py plays in a browser).
"""
from __future__ import annotations

import time
from typing import Callable, Sequence

import streamlit as st


def player(values: Sequence, key: str, *, pos: str = "pos", label: str, help: str,
           follow: bool | None = None, caption: Callable | None = None,
           advanced: bool = False):
    """Draw Play and the slider over ``values``; return the position to show.

    ``values`` grows while a run trains. A ``range`` is an index (a plain slider); any other
    sequence is drawn as a select slider of its values. ``follow``: True jumps to each new last
    value, False stays put, None stays at the end when it was at the end. ``caption(value)`` is
    shown beside the slider. ``advanced``: this redraw's position was already taken with
    :func:`advance` (it is not stepped again)."""
    index = isinstance(values, range)
    values = list(values)
    slider_key, playing_key = f"{key}_{pos}", f"{key}_playing"
    if not (advanced and slider_key in st.session_state):
        _step(values, key, slider_key, playing_key, follow)
    playing = bool(st.session_state.get(playing_key))
    c = st.columns([1.5, 8, 3] if caption else [1.5, 11], vertical_alignment="bottom")
    # Two buttons, Play and Pause, and not one that flips: the browser can send one click twice
    # (a timer tick that leaves before the click's own message carries it too), and the second
    # flipped Pause back to Play (Compare, in a headless Chromium). Each says what it wants.
    # Streamlit's bundled icon font, not a character: "⏸" is missing from common Linux fonts
    # (DejaVu draws a box, seen in a headless-browser screenshot)
    with c[0].container(key=f"{key}_play"):
        st.button("Pause" if playing else "Play", key=f"{key}_{'pause' if playing else 'start'}",
                  icon=":material/pause:" if playing else ":material/play_arrow:",
                  help="Animate: step through the snapshots, every panel moving together.",
                  on_click=_play_or_pause, args=(key, pos, not playing))
    with c[1]:
        if len(values) < 2:
            st.caption(("One snapshot so far." if index else f"One position so far: {values[0]}.")
                       if values else "Nothing to show yet.")
        else:
            _slider(label, values, index, slider_key, help, playing_key)
    current = st.session_state[slider_key]
    if caption:
        c[2].markdown(caption(current))
    return current


def advance(values: Sequence, key: str, *, pos: str = "pos", follow: bool | None = None):
    """The position this redraw shows (the next one while playing), before anything is drawn;
    then ``player(..., advanced=True)`` draws the controls at it.

    A page whose pictures take a while to build builds them first and draws everything after:
    drawn as they were built, the slider and the heading showed the new snapshot for the half
    second the panel below them still showed the one before (Present, while playing)."""
    return _step(list(values), key, f"{key}_{pos}", f"{key}_playing", follow)


def _play_or_pause(key: str, pos: str, play: bool) -> None:
    """Play or Pause, before the script reruns: read from the button's value, the redraw of the
    click stepped on once more first (Pause stopped one position past the one on the screen)."""
    state = st.session_state
    slider_key, playing_key = f"{key}_{pos}", f"{key}_playing"
    if bool(state.get(playing_key)) == play:
        return  # the same click again (see player)
    state[playing_key] = play
    values = state.get(f"_{key}_values") or []
    if play and values and state.get(slider_key) == values[-1]:
        state.pop(slider_key)  # from the first position again: playing from none starts there
    st.rerun(scope="app")  # start or stop the timer, from this redraw: one redraw, not two


def _slider(label: str, values: list, index: bool, slider_key: str, help: str,
            playing_key: str) -> None:
    """The slider for the position held in ``slider_key``, in a container with that key (for
    pages' CSS and browser tests). Over a range (an index) it counts from 1: people count
    snapshots from 1, and the caption beside it says "snapshot 67 of 69", so the slider must
    show 67 too. Over other values it shows the values.

    The browser sends the slider's value back with every redraw it asks for, and while the
    player moves by itself (playing, Back and Next) that value can be a position the browser
    has not caught up from (the timer's next ticks, a clicker's press): such a value is not a
    move. Taken as one, playing showed positions twice or went back one, and Next now and then
    went back instead. While playing and in the redraw that stops it, the positions left in the
    last four redraws are such values (a busy browser was seen three snapshots late, and sending
    the same one with Pause and with the tick after it); after that, the one left last, for the
    next two redraws, once. So the slider has a key of its own, and only its user's moves reach
    the position."""
    widget_key = f"{slider_key}_number" if index else f"{slider_key}_value"
    shift = 1 if index else 0  # the slider's value is the position plus this
    drawn_key, late_key = f"_{slider_key}_drawn", f"_{slider_key}_late"
    played_key, user_key = f"_{slider_key}_played", f"_{slider_key}_by_user"
    nudged_key = f"_{slider_key}_nudged"
    state = st.session_state

    def moved():  # the user's choice, before the script reruns
        chosen = state[widget_key] - shift
        late = state.get(late_key) or []
        if any(p == chosen for p, _ in late):
            if not (state.get(playing_key) or state.get(played_key)):
                state[late_key] = [(p, n) for p, n in late if p != chosen]
            return
        state[slider_key], state[user_key] = chosen, True

    here, left = state[slider_key], state.get(drawn_key)
    playing = bool(state.get(playing_key))
    by_player = bool(playing or state.get(played_key) or state.get(nudged_key)) \
        and not state.get(user_key)
    horizon = 3 if playing or state.get(played_key) else 1
    late = [(p, n + 1) for p, n in state.get(late_key) or [] if n < horizon and p != here]
    if left is not None and left != here:
        late = [(left, 0)] + [(p, n) for p, n in late if p != left] if by_player else []
    state[late_key], state[drawn_key], state[played_key] = late, here, playing
    for flag in (user_key, nudged_key):
        state.pop(flag, None)
    state[widget_key] = here + shift
    with st.container(key=slider_key):
        if index:
            st.slider(label, 1, len(values), key=widget_key, help=help, on_change=moved)
        else:
            st.select_slider(label, values, key=widget_key, help=help, on_change=moved)


def _step(values: list, key: str, slider_key: str, playing_key: str, follow: bool | None):
    """The position for this redraw: the next one while playing, the last one when following,
    else the one shown before (or the nearest that still exists)."""
    state = st.session_state
    before = state.get(f"_{key}_values") or []
    grew = bool(before) and len(values) > len(before)
    pos = state.get(slider_key)
    # a redraw the timer asked for (to start, stop or slow down) comes after this redraw's
    # step: it is not a tick, else a busy machine, which slows the timer, skipped a position
    retimed = state.pop(f"_{key}_retimed", False)
    if state.get(playing_key) and retimed and pos in values:
        pass  # the position stays for a tick of its own
    elif state.get(playing_key):
        later = [v for v in values if pos is None or v > pos]
        if later:
            pos = later[0]
        else:  # the end: stop, and stop the timer
            state[playing_key] = False
            state[slider_key], state[f"_{key}_values"] = values[-1], values
            st.rerun(scope="app")
    elif pos is None or (follow and grew) or (follow is None and before and pos == before[-1]):
        pos = values[-1]
    elif pos not in values:
        pos = values[-1] if pos > values[-1] else min(values, key=lambda v: abs(v - pos))
    state[slider_key], state[f"_{key}_values"] = pos, values
    return pos


def timer(draw: Callable[[], None], key: str, every: Callable[[], float | None]) -> None:
    """Run ``draw`` in a fragment that redraws itself every ``every()`` seconds, or never when
    that is None (``every`` is asked again after each redraw: a page starts and stops its own
    timer).

    The interval is never shorter than twice the time the last redraw took: on a busy machine a
    timer that fires before the redraw ends would restart it, and the page would never finish."""
    def interval() -> float | None:
        base = every()
        return None if base is None else max(base, 2.0 * st.session_state.get(f"_{key}_draw_s", 0.0))

    def fragment(running: float | None) -> None:
        start = time.perf_counter()
        draw()
        st.session_state[f"_{key}_draw_s"] = time.perf_counter() - start
        wanted = interval()
        if (wanted is None) != (running is None) or (wanted and running and wanted > 1.5 * running):
            # start, stop or slow down the timer; the player of the same key does not step
            st.session_state[f"_{key}_retimed"] = True
            st.rerun(scope="app")

    running = interval()
    st.fragment(run_every=running, key=f"{key}_timer")(fragment)(running)


def step_buttons(key: str, pos: str = "pos", where=None) -> None:
    """Back and Next beside a player: one position each, and the player stops. Their keyboard
    shortcuts are PageUp and PageDown, the keys a presentation clicker sends, so only one player
    on a page should have them."""
    slider_key, playing_key = f"{key}_{pos}", f"{key}_playing"

    def nudge(by: int) -> None:  # before the script reruns, from the values it last showed
        state = st.session_state
        values = state.get(f"_{key}_values") or []
        if not values:
            return
        here = state.get(slider_key)
        i = values.index(here) if here in values else len(values) - 1
        state[slider_key] = values[min(max(i + by, 0), len(values) - 1)]
        state[playing_key] = False
        state[f"_{slider_key}_nudged"] = True  # moved by the player: see _slider

    row = (where or st).container(horizontal=True, gap="small")
    row.button("Back", key=f"{key}_back", icon=":material/skip_previous:", shortcut="PageUp",
               on_click=nudge, args=(-1,),
               help="One snapshot back (and pause). Key: Page Up, a clicker's Back.")
    row.button("Next", key=f"{key}_next", icon=":material/skip_next:", shortcut="PageDown",
               on_click=nudge, args=(1,),
               help="One snapshot on (and pause). Key: Page Down, a clicker's Next.")


def rewind(key: str, pos: str = "pos", to=None) -> None:
    """Stop the player and forget the positions it has seen (another run was opened); with
    ``to``, show that position next."""
    st.session_state[f"{key}_playing"] = False
    st.session_state.pop(f"_{key}_values", None)
    for what in ("drawn", "late", "played", "by_user", "nudged"):  # see _slider
        st.session_state.pop(f"_{key}_{pos}_{what}", None)
    if to is not None:
        st.session_state[f"{key}_{pos}"] = to
