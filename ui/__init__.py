"""The app's small UI kit: the Streamlit parts that every page uses, written once.

- :mod:`ui.nav`: the pages, going through app.py, and moving between pages;
- :mod:`ui.shared`: what one server process shares (run manager, projections, cached run views);
- :mod:`ui.launch`: launching a run, and the big default-run button;
- :mod:`ui.player`: the epoch slider with Play, and the fragment timer that redraws a page;
- :mod:`ui.pickers`: the run picker tied to the link, the colour-by control;
- :mod:`ui.fields`: one widget per :class:`dcviz.forms.Field` (config, data and lens options);
- :mod:`ui.panels`: a lens's panels, and its options;
- :mod:`ui.run_actions`: export, rename, tag, re-run and delete one run;
- :mod:`ui.takeaway`: a run's latent view as a GIF, a standalone HTML page, stage PNGs;
- :mod:`ui.look`: the style sheet and the pictures in assets/.

Pages (pages/*.py) are storyboards that call these; what needs no browser lives in dcviz/.
"""
