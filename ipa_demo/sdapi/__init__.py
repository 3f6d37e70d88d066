"""AUTOMATIC1111's web API (``/sdapi/v1``) and its ControlNet extension's (``/controlnet``), served from
the app's own engine so that existing clients (``webuiapi``, editor plugins, chat bots) work unchanged.

``models`` (the request bodies), ``images`` (base64 in, within the memory budget), ``units`` (the
extension's units), ``mapping`` (a request onto ``GenerationSettings``), ``lists`` (models, samplers,
modules), ``responses`` (images, ``info``), ``jobs`` (progress and interrupt per caller), ``routes``
(the FastAPI app), ``mount`` (how the Gradio server passes these paths to it).
"""
