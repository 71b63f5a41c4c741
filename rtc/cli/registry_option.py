"""`--registry HOST[:PORT][/PREFIX]` (or $RTC_REGISTRY), shared by build, compile, deploy and run.

Not a command: the commands that take the option add it here and apply it to the pipeline
they loaded, so the emitters and the runner only ever see image names.
"""

from __future__ import annotations

HELP = (
    "registry the built images are pushed to (`rtc build --push`): the compiled files and runs name "
    "HOST[:PORT][/PREFIX]/NAMESPACE-ENV:HASH instead of the local tag; default: $RTC_REGISTRY"
)


def add(parser) -> None:
    parser.add_argument("--registry", default=None, metavar="HOST[:PORT][/PREFIX]", help=HELP)


def apply(pipeline, args):
    """`pipeline` with its built images named as pushed to the chosen registry (unchanged when none)."""
    from rtc.compiler import registry

    return registry.with_registry(pipeline, registry.from_option(getattr(args, "registry", None)))
