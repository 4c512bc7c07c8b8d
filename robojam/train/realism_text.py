"""The realism report as text: a few aligned lines, then the features that give responses away."""

from __future__ import annotations

from robojam.core.drafts import drafts_named
from robojam.train.realism import SHAPE_FEATURES, STYLE_FEATURES


def format_report(report: dict, top: int = 8) -> str:
    """The report as a few aligned lines and a table of features, most telling first."""
    following_, edge, settings = report["following"], report["edge_share"], report["settings"]
    lines = [
        f"{report['model']}",
        f"{report['pairs']} pairs ({settings['split']}), temp {settings['temp']:g}, "
        f"sigma-temp {settings['sigma_temp']:g}, shape temp {settings['shape_temp']:g}, "
        f"rhythm temp {settings['rhythm_temp']:g}, gap tilt {settings['gap_tilt']:g}, "
        f"rim {settings['rim']:g} kept {settings['rim_keep']:g}, echo {settings['echo']:g}, seed {settings['seed']}, "
        f"{drafts_named(settings.get('drafts', 1))}",
        f"  grid          1/{report['grid']['points']} of the screen, times to 1 us (both sides)",
        f"  judge         {_judge(report['judge'])}",
        f"  realism AUC   {report['realism_auc']:.3f}   the worse of the two tests "
        f"(0.5: responses indistinguishable from people, 1: always told apart)",
        *(f"    {name:<12}{_tests(report['tests'][name])}" for name in ("features", "featureless")),
        f"  control AUC   {report['control_auc']:.3f}   two random halves of the human continuations (k-fold)",
        f"  sanity AUC    {report['sanity']['auc']:.3f}   {report['sanity']['sampler']}: "
        f"{'caught' if report['sanity']['caught'] else 'NOT caught: the report is too weak to trust'} "
        f"(needs {report['sanity']['target']:g})",
        f"  following     {_show(following_['mean'])}   human {_show(following_['human_mean'])}   "
        f"mean Spearman, call to answer, over {len(STYLE_FEATURES)} style features",
        f"    shape       {_show(following_['shape_mean'])}   human {_show(following_['human_shape_mean'])}   "
        f"over {', '.join(SHAPE_FEATURES)}",
        f"  copied runs   {_copies_line(report['copies'])}",
        f"  copied leaps  {_show(report['copies']['call_leaps']['robojam'])} of the call's   "
        f"human {_show(report['copies']['call_leaps']['human'])}   (leaps between strokes, either way round)",
        f"  edge share    {edge['robojam']:.3f}   human {edge['human']:.3f}   ratio {_show(edge['ratio'], '.2f')}",
        f"  held-out NLL  {_show(report['nll_per_event'], '.4f')} nats/event",
    ]
    for side, names in following_["skipped"].items():
        if names:
            lines.append(f"  following skips {', '.join(names)} ({side}: constant)")
    lines.append(f"\n  {'feature':<16}{'importance':>11}{'KS':>7}{'human':>10}{'robojam':>10}")
    for name, importance in report["giveaways"][:top] if top else report["giveaways"]:
        medians = report["medians"][name]
        lines.append(f"  {name:<16}{importance:>11.3f}{report['ks'][name]:>7.2f}"
                     f"{medians['human']:>10.3g}{medians['robojam']:>10.3g}")
    lines.append("  (importance in a classifier on all the features, KS distance, medians)")
    return "\n".join(lines)


def _judge(judge: dict) -> str:
    if not judge["learned_from"]:
        return "k-fold over these pairs alone (held out only for --split val or test)"
    return f"held out: learned from {judge['pairs']} pairs of {' and '.join(judge['learned_from'])}"


def _tests(test: dict) -> str:
    held_out = f"held out {test['held_out']:.3f}   " if "held_out" in test else ""
    return f"{held_out}k-fold {test['kfold']:.3f}"


def _copies_line(shares: dict) -> str:
    line = f"{_show(shares['call']['robojam'])} of the call's   human {_show(shares['call']['human'])}"
    if "corpus" in shares:
        line += (f";   {_show(shares['corpus']['robojam'])} of the training split's   "
                 f"human {_show(shares['corpus']['human'])}")
    return line + f"   ({shares['run_touches']}-touch runs)"


def _show(value, spec: str = ".3f") -> str:
    return "n/a" if value is None else format(value, spec)
