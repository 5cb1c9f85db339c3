"""The one place that decides between a whole page and an htmx fragment."""

from flask import current_app
from flask import render_template
from flask import request
from flask import template_rendered

from defi.formatting import nbsp


def is_htmx() -> bool:
    """True for a request made by htmx to swap a part, not a boosted page or history restore."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-Boosted") != "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render(template_name, block=None, **context):
    """Render the page, or only `block` of it when htmx asked for a fragment."""
    if block is None or not is_htmx():
        return render_template(template_name, **context)
    app = current_app._get_current_object()
    template = app.jinja_env.get_template(template_name)
    app.update_template_context(context)
    render_block = template.blocks[block]
    html = nbsp("".join(render_block(template.new_context(context))))
    # As render_template does: what was rendered can be observed (the access tests do).
    template_rendered.send(app, template=template, context=context)
    return html
