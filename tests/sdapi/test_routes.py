"""The A1111 API served by the app itself, driven by the ``webuiapi`` client and by raw HTTP.

The app is started as ``app.py`` starts it (``launch_options``: the request guard, which routes
``/sdapi`` and ``/controlnet`` to the API), on the tiny models.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import requests
import webuiapi
from gradio_client import Client, handle_file
from PIL import Image

from ipa_demo.mask_note import blurred_mask
from ipa_demo.ui.app import create_app, launch_options

from ..helpers import noise_image
from ..ui.test_app import served

SMALL = {"prompt": "a red bicycle", "steps": 2, "width": 64, "height": 64, "seed": 21, "cfg_scale": 7.5}


def b64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def decoded(text: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(text)))


@pytest.fixture(scope="module")
def url(engine) -> Iterator[str]:
    with served(create_app(engine, with_examples=False), **launch_options()) as address:
        yield address


@pytest.fixture(scope="module")
def api(url: str) -> webuiapi.WebUIApi:
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    return webuiapi.WebUIApi(host=host, port=int(port), sampler="Euler a", steps=2)


def post(url: str, path: str, payload: Any) -> requests.Response:
    return requests.post(f"{url}{path.lstrip('/')}", json=payload, timeout=120)


def test_txt2img_answers_as_a1111(url: str) -> None:
    reply = post(url, "sdapi/v1/txt2img", {**SMALL, "batch_size": 2, "n_iter": 2, "sampler_name": "Euler a"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    info = json.loads(body["info"])
    assert info["all_seeds"] == [21, 22, 23, 24] and info["seed"] == 21
    assert len(body["images"]) == 4 and len(info["infotexts"]) == 4
    for key in ("prompt", "negative_prompt", "width", "height", "steps", "cfg_scale", "sampler_name", "sd_model_name",
                "sd_model_hash", "index_of_first_image", "job_timestamp"):  # fmt: skip
        assert key in info, key
    first = decoded(body["images"][0])
    assert first.size == (64, 64) and "Seed: 21" in first.info["parameters"]
    assert body["parameters"]["prompt"] == "a red bicycle"


def test_webuiapi_txt2img_with_an_ip_adapter_unit_and_a_canny_unit(api: webuiapi.WebUIApi) -> None:
    models = api.controlnet_model_list()
    ip_model = next(name for name in models if "ip-adapter_sd15 [" in name)
    canny_model = next(name for name in models if "sd15_canny" in name)
    units = [
        webuiapi.ControlNetUnit(image=noise_image(80, 64, seed=4), module="ip-adapter_clip_sd15", model=ip_model,
                                weight=0.8),
        webuiapi.ControlNetUnit(image=noise_image(64, 64, seed=5), module="canny", model=canny_model,
                                threshold_a=50, threshold_b=150, resize_mode="Crop and Resize"),
    ]  # fmt: skip
    result = api.txt2img(prompt="a cat", seed=3, width=64, height=64, cfg_scale=7.5, controlnet_units=units)
    assert len(result.images) == 2, "the image, then the canny unit's detected map"
    assert result.info["all_seeds"] == [3]
    text = result.images[0].info["parameters"]
    assert "IP scale: 0.8" in text and "ControlNet: canny" in text and "Canny thresholds: 50-150" in text, text
    detected = np.asarray(result.images[1].convert("L"))
    assert set(np.unique(detected)) <= {0, 255}, "a canny map is black and white"


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.int16)


def test_an_api_image_equals_the_one_generate_makes(url: str, tmp_path) -> None:
    control = noise_image(64, 64, seed=9)
    control.save(tmp_path / "control.png")
    unit = {"enabled": True, "module": "canny", "model": "control_v11p_sd15_canny", "image": b64(control),
            "weight": 0.7, "guidance_end": 0.8, "threshold_a": 40, "threshold_b": 120}  # fmt: skip
    payload = {**SMALL, "sampler_name": "DPM++ 2M", "scheduler": "Karras", "alwayson_scripts": {"controlnet": {"args": [unit]}}}
    reply = post(url, "sdapi/v1/txt2img", payload)
    assert reply.status_code == 200, reply.text
    through_api = decoded(reply.json()["images"][0])
    client = Client(url, verbose=False)
    gallery, *_ = client.predict(
        prompt="a red bicycle", steps=2, width=64, height=64, seed=21, guidance=7.5, scheduler="DPM++ 2M Karras",
        ip_scale=0.0, controlnet="canny", controlnet_scale=0.7, controlnet_end=0.8, canny_low=40, canny_high=120,
        control_image=handle_file(str(tmp_path / "control.png")), api_name="/generate",
    )  # fmt: skip
    through_web = Image.open(gallery[0]["image"])
    assert np.abs(pixels(through_api) - pixels(through_web)).max() <= 1
    assert through_api.info["parameters"] == through_web.info["parameters"]


def test_my_prompt_is_more_important_is_soft_injection_as_generate_runs_it(url: str, tmp_path) -> None:
    control = noise_image(64, 64, seed=9)
    control.save(tmp_path / "control.png")
    unit = {"enabled": True, "module": "none", "model": "control_v11p_sd15_canny", "image": b64(control)}
    images = {}
    for mode in (0, 1):
        payload = {**SMALL, "sampler_name": "Euler a", "alwayson_scripts": {"controlnet": {"args": [{**unit, "control_mode": mode}]}}}
        reply = post(url, "sdapi/v1/txt2img", payload)
        assert reply.status_code == 200, reply.text
        images[mode] = decoded(reply.json()["images"][0])
    gallery, *_ = Client(url, verbose=False).predict(
        prompt="a red bicycle", steps=2, width=64, height=64, seed=21, guidance=7.5, scheduler="Euler a", ip_scale=0.0,
        controlnet="canny", controlnet_soft=True, control_is_map=True,
        control_image=handle_file(str(tmp_path / "control.png")), api_name="/generate",
    )  # fmt: skip
    web = Image.open(gallery[0]["image"])
    assert np.abs(pixels(images[1]) - pixels(web)).max() <= 1
    assert "ControlNet soft: True" in images[1].info["parameters"], images[1].info["parameters"]
    assert np.abs(pixels(images[1]) - pixels(images[0])).max() > 2


def test_webuiapi_img2img_with_a_mask_inpaints_as_the_inpaint_tab_does(api: webuiapi.WebUIApi, url: str, tmp_path) -> None:
    """Both blur the mask, inpaint the whole picture and paste the result back over the init image through
    the blurred mask, as A1111 does; ``/generate``'s img2img section pastes nothing back."""
    init, mask = noise_image(64, 64, seed=11), Image.new("RGB", (64, 64), "black")
    mask.paste((255, 255, 255), (0, 0, 32, 64))
    init.save(tmp_path / "init.png")
    layer = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    layer.paste((255, 255, 255, 255), (0, 0, 32, 64))  # the web page's mask: a layer painted where to repaint
    layer.save(tmp_path / "layer.png")
    result = api.img2img(images=[init], mask_image=mask, mask_blur=3, inpainting_fill=1, inpaint_full_res=False,
                         denoising_strength=0.5, prompt="a red bicycle", seed=5, width=64, height=64, cfg_scale=7.5)  # fmt: skip
    assert len(result.images) == 1 and "Denoising strength: 0.5" in result.images[0].info["parameters"]
    gallery, *_ = Client(url, verbose=False).predict(
        prompt="a red bicycle", steps=2, width=64, height=64, seed=5, guidance=7.5, scheduler="Euler a", ip_scale=0.0,
        inpaint_strength=0.5, mask_blur=3, inpaint_image={"background": handle_file(str(tmp_path / "init.png")),
        "composite": None, "layers": [handle_file(str(tmp_path / "layer.png"))]}, api_name="/inpaint",
    )  # fmt: skip
    web = Image.open(gallery[0]["image"])
    assert result.images[0].info["parameters"] == web.info["parameters"]
    assert np.abs(pixels(result.images[0]) - pixels(web)).max() <= 1
    untouched = np.asarray(blurred_mask(mask, 3).convert("L")) == 0
    assert untouched[:, 48:].all() and np.array_equal(pixels(result.images[0])[untouched], pixels(init)[untouched])
    inverted = api.img2img(images=[init], mask_image=mask, mask_blur=0, inpainting_fill=1, inpaint_full_res=False,
                           inpainting_mask_invert=1, denoising_strength=0.5, prompt="a red bicycle", seed=5, width=64,
                           height=64, cfg_scale=7.5)  # fmt: skip
    assert not np.array_equal(pixels(inverted.images[0]), pixels(result.images[0])), "the inverted mask repaints the other half"


def test_png_info_reads_our_pngs_and_a1111s(api: webuiapi.WebUIApi) -> None:
    made = api.txt2img(prompt="a lighthouse", seed=8, width=64, height=64).images[0]
    info = api.png_info(made)
    assert info.info == made.info["parameters"]
    assert info.parameters["Prompt"] == "a lighthouse" and info.parameters["Seed"] == "8"
    theirs = Image.new("RGB", (8, 8))
    theirs.info["parameters"] = "a cat\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, Model hash: abcd1234, Model: v1-5"
    read = api.png_info(theirs)
    assert read.parameters["Negative prompt"] == "blurry" and read.parameters["Size-1"] == "512"


def test_model_and_module_lists_name_what_clients_search_for(api: webuiapi.WebUIApi, url: str) -> None:
    models = api.controlnet_model_list()
    for part in ("ip-adapter_sd15 [", "sd15_canny [", "t2iadapter_depth_sd15v2 ["):
        assert any(part in name for name in models), part
    assert all(len(name.rsplit("[", 1)[1]) == 9 for name in models), "stem [8 hex]"
    modules = api.controlnet_module_list()
    assert {"canny", "depth", "openpose", "ip-adapter_clip_sd15", "reference_only", "none"} <= set(modules)
    assert api.controlnet_version() >= 2
    assert [model["model_name"] for model in api.get_sd_models()] == ["stable-diffusion-v1-5"]
    assert {"Euler a", "DPM++ 2M"} <= set(api.util_get_sampler_names())
    assert "automatic" in api.util_get_scheduler_names()
    assert "controlnet" in api.get_scripts()["txt2img"]
    assert api.get_options()["sd_model_checkpoint"] == "stable-diffusion-v1-5"
    assert requests.get(f"{url}sdapi/v1/upscalers", timeout=10).json() == []


def test_options_are_not_changed_on_an_open_api(url: str) -> None:
    reply = post(url, "sdapi/v1/options", {"sd_model_checkpoint": "other"})
    assert reply.status_code == 403 and "override_settings" in reply.json()["detail"]


def test_override_settings_accepts_the_servers_models_and_refuses_another(url: str) -> None:
    same = post(url, "sdapi/v1/txt2img", {**SMALL, "override_settings": {"sd_model_checkpoint": "stable-diffusion-v1-5"}})
    assert same.status_code == 200, same.text
    other = post(url, "sdapi/v1/txt2img", {**SMALL, "override_settings": {"sd_model_checkpoint": "dreamshaper_8"}})
    assert other.status_code == 422 and other.json()["detail"].startswith("override_settings.sd_model_checkpoint: ")


def test_extension_documentation_payloads(url: str) -> None:
    """Shaped as the extension's wiki shows them: the deprecated names, a {"image", "mask"} image, a
    reference-only unit with its style fidelity in threshold_a, an IP unit with several references."""
    image = b64(noise_image(64, 64, seed=2))
    units = [
        {"input_image": image, "module": "canny", "model": "control_v11p_sd15_canny [d14c016b]", "enabled": True,
         "guidance": 0.9, "lowvram": False, "processor_res": 64, "threshold_a": 100, "threshold_b": 200},
        {"image": [{"image": image, "mask": None}, {"image": b64(noise_image(72, 64, seed=3)), "mask": None}],
         "module": "ip-adapter-auto", "model": "ip-adapter_sd15", "weight": 0.6, "enabled": True,
         "advanced_weighting": [1.0] * 15 + [0.5]},
        {"image": {"image": image, "mask": None}, "module": "reference_adain+attn", "model": "None", "enabled": True,
         "threshold_a": 0.3, "control_mode": "Balanced"},
        {"image": image, "module": "depth", "model": "None", "enabled": False},
    ]  # fmt: skip
    reply = post(url, "sdapi/v1/txt2img", {**SMALL, "alwayson_scripts": {"ControlNet": {"args": units}}})
    assert reply.status_code == 200, reply.text
    text = json.loads(reply.json()["info"])["infotexts"][0]
    assert "ControlNet: canny" in text and "ControlNet window: 0-0.9" in text, "guidance: the old name of guidance_end"
    assert "Reference-only: attn+adain" in text and "Ref fidelity: 0.3" in text
    assert "Sampler: Euler," in text, "A1111's default sampler"
    assert "IP scale: 1," in text, "the extension's advanced weighting stands in for the unit's weight"
    assert 'IP weights: "1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0.5"' in text, "in the UNet's call order"


def test_detect_makes_the_map_a_canny_unit_gets(api: webuiapi.WebUIApi, url: str) -> None:
    image = noise_image(64, 48, seed=6)
    made = api.controlnet_detect([image], module="canny", threshold_a=50, threshold_b=150).images[0]
    assert made.size == (64, 48) and set(np.unique(np.asarray(made.convert("L")))) <= {0, 255}
    raw = post(url, "controlnet/detect", {"controlnet_module": "canny", "controlnet_input_images": [b64(image)],
                                          "controlnet_threshold_a": 50, "controlnet_threshold_b": 150})  # fmt: skip
    assert raw.status_code == 200 and np.array_equal(pixels(decoded(raw.json()["images"][0])), pixels(made))
    assert post(url, "controlnet/detect", {"controlnet_module": "lineart", "controlnet_input_images": [b64(image)]}).status_code == 422
