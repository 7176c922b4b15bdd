"""Every ipywidgets call the notebooks make, wired to callbacks and driven as a student would.

Run as a script (``python tests/widget_api.py``) by tests/test_widgets.py, once with the installed
ipywidgets (8 in the lab) and once with ipywidgets 7.7.1 (Colab's) where a copy is available. Prints
``widgets ok: ipywidgets <version>`` or fails with an AssertionError. WIDGETS lists the names used,
so tests/test_widgets.py can fail when a notebook starts using one that is not exercised here.

What differs between the majors, for this course: only ``FileUpload.value`` (7: a dict
name -> {"metadata", "content"}; 8: a tuple of dicts with "content"), read by
``course_lib.style.decode_upload``. Everything below behaves the same in both.
"""
import io

import ipywidgets as widgets

WIDGETS = {"Dropdown", "FileUpload", "FloatLogSlider", "FloatSlider", "HBox", "IntSlider", "Output",
           "ToggleButtons", "VBox", "interact", "interactive", "interactive_output"}


def main():
    calls = []

    # notebook 03: interactive_output over a slider and toggle buttons, in boxes
    slider = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="t")
    method = widgets.ToggleButtons(options=["slerp", "linear"], description="path")
    out = widgets.interactive_output(lambda t, method: calls.append(("03", t, method)), {"t": slider, "method": method})
    widgets.VBox([widgets.HBox([slider, method]), out])
    slider.value, method.value = 0.25, "linear"
    assert ("03", 0.25, "linear") in calls, calls

    # notebook 05: observe(names="value") redraws into an Output
    frame = widgets.Output()
    slider5 = widgets.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="t")
    slider5.observe(lambda change: calls.append(("05", change["new"])), names="value")
    widgets.VBox([slider5, frame])
    slider5.value = 0.8
    assert ("05", 0.8) in calls, calls

    # notebook 06: interact with two int sliders (positional value, min, max)
    shown = widgets.interact(lambda digit, seed: calls.append(("06", digit, seed)),
                             digit=widgets.IntSlider(7, 0, 9, description="digit"),
                             seed=widgets.IntSlider(0, 0, 99, description="noise seed"))
    shown.widget.children[0].value = 3  # moving a slider calls back with every current value
    assert ("06", 3, 0) in calls, calls

    # notebook 08: a manual interactive (a button) with a log slider, a dropdown and an upload
    upload = widgets.FileUpload(accept="image/*", multiple=False, description="style image")
    weight = widgets.FloatLogSlider(value=1e3, base=10, min=0, max=5, description="style weight",
                                    continuous_update=False)
    size = widgets.IntSlider(value=64, min=32, max=512, step=32, description="size (px)", continuous_update=False)
    texture = widgets.Dropdown(options=["brick", "grass", "gravel"], description="texture")
    manual = widgets.interactive(lambda texture, style_weight, size: calls.append(("08", texture, style_weight, size)),
                                 {"manual": True, "manual_name": "stylise"},
                                 texture=texture, style_weight=weight, size=size)
    assert not [c for c in calls if c[0] == "08"], "a manual interactive must wait for its button"
    texture.value = "grass"
    manual.update()  # what the "stylise" button does
    assert ("08", "grass", 1e3, 64) in calls, calls
    assert not upload.value  # empty: decode_upload returns None and the dropdown's texture is used

    from course_lib.style import decode_upload
    from PIL import Image

    png = io.BytesIO()
    Image.new("RGB", (4, 3), (255, 0, 0)).save(png, format="PNG")
    major = int(widgets.__version__.split(".")[0])
    value = ({"red.png": {"metadata": {"name": "red.png"}, "content": png.getvalue()}} if major == 7
             else ({"name": "red.png", "content": memoryview(png.getvalue())},))
    assert tuple(decode_upload(value).shape) == (3, 3, 4)

    # notebook 09: interactive with a slider and a dropdown, runs at once and on every change
    sigma = widgets.FloatSlider(value=25, min=5, max=50, step=5, description="sigma (0-255)", continuous_update=False)
    live = widgets.interactive(lambda sigma_255, photo: calls.append(("09", sigma_255, photo)), sigma_255=sigma,
                               photo=widgets.Dropdown(options=["a", "b"]))
    live.update()
    sigma.value = 40
    assert ("09", 40.0, "a") in calls, calls

    print(f"widgets ok: ipywidgets {widgets.__version__}")


if __name__ == "__main__":
    main()
