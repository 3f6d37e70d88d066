"""The Gradio web app: layout, controls, handlers and the guards in front of them."""
