"""The ``robojam`` command line.

Each command imports what it needs when it runs, so that ``robojam respond``
never pays for TensorFlow (only ``train`` and ``bench`` import it).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import sys
from pathlib import Path

import click

from robojam import RobojamError, __version__
from robojam.core.drafts import DEFAULT_DRAFTS, MAX_DRAFTS
from robojam.core.temperatures import ECHO_LIMITS, KEEP_LIMITS, LIMITS as TEMPERATURE_LIMITS, RIM_LIMITS, TILT_LIMITS
from robojam.live.knobs import DEFAULTS, MODEL_HELP, RANGES, SERVE



def _limited(name: str) -> click.ParamType:
    """click's range type for a setting in robojam.live.knobs.RANGES."""
    limit = RANGES[name]
    if limit.integer:
        return click.IntRange(int(limit.low), int(limit.high))
    return click.FloatRange(limit.low, limit.high)


class ModelFolder(click.Path):
    """A model folder, or ``default``: the shipped model by its name (unless a folder here is called that)."""

    def __init__(self):
        super().__init__(path_type=Path)

    def convert(self, value, param, ctx):
        if str(value) == "default" and not Path("default").is_dir():
            from robojam.core.modelfile import default_model_path
            return default_model_path()
        return super().convert(value, param, ctx)


MODEL = ModelFolder()


def _fail(error: Exception) -> None:
    raise click.ClickException(str(error))


def _require(module: str, extra: str, what: str) -> None:
    """A missing optional dependency ends with one line naming the extra that brings it."""
    if importlib.util.find_spec(module) is None:
        raise RobojamError(f'{what} needs {module}, which the light install leaves out: '
                           f'pip install "robojam[{extra}]"')


GAP_TILT_HELP = "Tilts the choice of gesture towards longer gaps (above 0: more pauses) or shorter ones"


RIM_HELP = "Keeps touches off the canvas's rim this wide (screen units; 0: no rim)"
RIM_KEEP_HELP = "The chance that a touch landing on the rim from inside it is kept (1: every one)"
ECHO_HELP = "The chance that a new stroke leaps as the call's strokes did (0: as the model draws it)"


# The player's options that stand in for a model's own temperatures, and the part each sets.
TEMPERATURE_OPTIONS = {"shape_temp": "shape", "rhythm_temp": "rhythm", "gap_tilt": "gap_tilt", "rim": "rim",
                       "rim_keep": "rim_keep", "echo": "echo"}


def _temperature_options(command):
    """--shape-temp, --rhythm-temp, --gap-tilt, --rim, --rim-keep and --echo, handed to the command as one
    ``temperatures`` dict of those given, in place of the model's own (robojam.core.temperatures)."""
    @functools.wraps(command)
    def with_temperatures(**kwargs):
        given = {part: kwargs.pop(option) for option, part in TEMPERATURE_OPTIONS.items()}
        return command(temperatures=_given(given), **kwargs)

    own = "; default: the model's own (see robojam tune)."
    options = [click.option("--echo", type=click.FloatRange(*ECHO_LIMITS), help=ECHO_HELP + own, hidden=True),
               click.option("--rim-keep", type=click.FloatRange(*KEEP_LIMITS), help=RIM_KEEP_HELP + own, hidden=True),
               click.option("--rim", type=click.FloatRange(*RIM_LIMITS), help=RIM_HELP + own, hidden=True),
               click.option("--gap-tilt", type=click.FloatRange(*TILT_LIMITS), help=GAP_TILT_HELP + own,
                            hidden=True)]
    for part, what in (("rhythm", "timing"), ("shape", "movement")):
        options.append(click.option(f"--{part}-temp", f"{part}_temp", type=click.FloatRange(*TEMPERATURE_LIMITS),
                                    help=f"Scales the variance of the {what} on top of --sigma-temp" + own,
                                    hidden=True))
    for option in options:
        with_temperatures = option(with_temperatures)
    return with_temperatures


def _sampling_options(when: str = ""):
    """RoboJam's two temperatures (--temp, --sigma-temp) and the model's own (``_temperature_options``),
    as respond and eval both take them; ``when`` starts their help ("With --realism: "). They are model
    builders' controls: left out of the command's --help, which points to ``robojam tune --help``."""
    def decorate(command):
        command = _temperature_options(command)
        command = click.option("--sigma-temp", type=_limited("sigma_temp"), default=1.0, show_default=True,
                               help=when + "Scales each mixture component's variance: lower is tighter, "
                                           "smoother.", hidden=True)(command)
        return click.option("--temp", type=_limited("temp"), default=1.0, show_default=True,
                            help=when + "Mixture-weight temperature: lower picks the likeliest gesture more "
                                        "often.", hidden=True)(command)
    return decorate


SAMPLING_EPILOG = ("Model builders' sampling controls (--temp, --sigma-temp, --shape-temp, --rhythm-temp, "
                   "--gap-tilt, --rim, --rim-keep, --echo) work here too: see robojam tune --help.")


def _load_model_with(model_path, temperatures: dict):
    """The model, with the given parts of its temperatures (robojam.core.temperatures) in place of its own."""
    from dataclasses import replace

    from robojam.core.modelfile import load_model

    model = load_model(model_path)
    model.temperatures = replace(model.temperatures, **temperatures)
    return model


def _drafts_option(when: str):
    return click.option("--drafts", type=click.IntRange(1, MAX_DRAFTS), default=DEFAULT_DRAFTS, show_default=True,
                        help=f"{when}Draft each answer a phrase (8 touches) at a time, drawing this many candidates "
                             "for each and keeping the one the model's selector finds most like a person's (1: a "
                             "single draw; a model without a selector.npz draws one).")


def _given(options: dict) -> dict:
    return {name: value for name, value in options.items() if value is not None}


def _feature_names(value: str | None) -> tuple[str, ...] | None:
    """--style-features: comma-separated names (checked when the style is fitted)."""
    return None if value is None else tuple(name.strip() for name in value.split(",") if name.strip())


def _verbose(wanted: bool) -> None:
    """--verbose: let TensorFlow's own start-up lines through (robojam.train.quiet)."""
    if wanted:
        os.environ["ROBOJAM_VERBOSE"] = "1"


class RobojamGroup(click.Group):
    """Turns RobojamError from any command into a one-line message and exit status 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except RobojamError as e:
            _fail(e)


@click.group(cls=RobojamGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="robojam")
def main():
    """robojam: a live musical performance agent.

    It listens to touchscreen performances and answers with its own, sampled
    from a mixture density recurrent network (RoboJam's MDN-RNN).
    """


@main.command(epilog=SAMPLING_EPILOG)
@click.argument("call", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the response performance (CSV).")
@click.option("--model", "model_path", type=MODEL, help=MODEL_HELP)
@click.option("--seconds", type=_limited("seconds"), default=5.0, show_default=True,
              help="Length of the response in seconds.")
@_sampling_options()
@click.option("--seed", type=int, default=None, help="Random seed: the same seed gives the same response.")
@click.option("--steer", "steer", multiple=True, metavar="KNOB=VALUE",
              help="Turn a knob, -2 to 2 (0: as robojam plays unsteered): density, energy, register, size, curl; "
                   "or contrast, 0 to 1 (answers unlike the call). Repeat for several.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw the call and the response side by side to this PNG.")
@click.option("--midi", "midi_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the response as a standard MIDI file (pentatonic over 3 octaves from C3, "
                   "y on CC 74), ready for any synth.")
@_drafts_option("")
def respond(call, output, model_path, seconds, temp, sigma_temp, temperatures, seed, steer, plot_path, midi_path,
            drafts):
    """Answer the performance in CALL (a RoboJam CSV) with a sampled response."""
    import numpy as np

    from robojam.core.drafts import respond_with_drafts
    from robojam.core.engine import Engine
    from robojam.core.performance import Performance, read_csv, write_csv
    from robojam.core.steering import parse_steer

    knobs = parse_steer(steer)
    performance = read_csv(call)
    model = _load_model_with(model_path, temperatures)
    response = respond_with_drafts(Engine(model), model.selector, performance.xy_dt(), seconds,
                                   np.random.default_rng(seed), drafts, temp, sigma_temp, knobs)
    result = Performance.from_xy_dt(response, z=None, energy=knobs.get("energy", 0.0))  # robojam's dynamics
    _write(lambda: write_csv(result, output), output)
    click.echo(f"{output}: {len(result)} touches over {result.duration:.2f} s, "
               f"answering {len(performance)} touches over {performance.duration:.2f} s")
    if plot_path:
        from robojam.tools.plot import plot_performances
        plot_performances([("call", performance), ("response", result)], plot_path)
        click.echo(f"{plot_path}: call and response drawn")
    if midi_path:
        from robojam.live.midi_touch import write_midi_file
        write_midi_file(result, midi_path)
        click.echo(f"{midi_path}: response as MIDI")


def _write(action, path: Path) -> None:
    try:
        action()
    except OSError as e:
        raise RobojamError(f"{path}: cannot write ({e.strerror or e})") from None


def _train_option(name: str, help_text: str, **kwargs):
    """A train option whose default comes from TrainOptions (or FINE_TUNING with --from)."""
    from dataclasses import fields

    from robojam.train.training import FINE_TUNING, TrainOptions

    key = name.lstrip("-").replace("-", "_")
    key = "learning_rate" if key == "lr" else key
    default = next(f.default for f in fields(TrainOptions) if f.name == key)
    shown = f" [default: {default}" + (f"; {FINE_TUNING[key]} with --from" if key in FINE_TUNING else "") + "]"
    return click.option(name, key, default=None, help=help_text + shown, **kwargs)


@main.command()
@click.argument("data", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Model folder to write (checkpoints go to its checkpoints/ folder).")
@click.option("--from", "base_path", type=click.Path(path_type=Path),
              help="Fine-tune this model (a model folder, or 'default' for the shipped one) on DATA instead "
                   "of training from scratch: its architecture and encoding are kept.")
@_train_option("--layers", "Stacked LSTM layers.", type=click.IntRange(1, 8))
@_train_option("--units", "Units per LSTM layer.", type=click.IntRange(4, 1024))
@_train_option("--mixtures", "Gaussian components in the MDN head.", type=click.IntRange(1, 64))
@_train_option("--seq-len", "Events per training window.", type=click.IntRange(2, 4096))
@_train_option("--encoding", "heading: the movement along and across the one before, and log dt, with the "
                             "room to the screen's edges (the shipped model's); delta: the movement and log dt; "
                             "robojam: raw x, y, dt as in RoboJam.",
               type=click.Choice(["delta", "heading", "robojam"]))
@_train_option("--epochs", "Most epochs to train; early stopping usually ends sooner.", type=click.IntRange(1, 10000))
@_train_option("--batch-size", "Training windows a step.", type=click.IntRange(1, 4096))
@_train_option("--lr", "Adam learning rate (halved when validation stalls).",
               type=click.FloatRange(min=0, min_open=True))
@_train_option("--patience", "Epochs without validation improvement before stopping.", type=click.IntRange(1, 1000))
@_train_option("--seed", "Random seed for weights and shuffling.", type=int)
@click.option("--style", flag_value=True, default=None,
              help="Give the network a style input: beside every touch it also reads the call's style "
                   "(touch rate, pauses, strokes, speed, turning, spread), so responses take it up.")
@_train_option("--style-noise", "With --style: spread of the Gaussian noise added to the (standardised) style "
                               "input while training, so the network cannot learn performances by their style.",
               type=click.FloatRange(0, 10))
@click.option("--style-features", callback=lambda ctx, param, value: _feature_names(value),
              help="With --style (implied): the features the style input reads, comma-separated names of the "
                   "realism report's features [default: its 13 style features]; with --from a model whose "
                   "style input lacks some, they are added.")
@click.option("--correlated", flag_value=True, default=None,
              help="Give the head a correlation per component between the movement's two numbers (Graves' "
                   "bivariate Gaussians), so a component can lie slantwise; with --from a model without one, "
                   "every correlation starts at 0 and the model plays as before until trained.")
@_train_option("--look-ahead", "Also train a second head on the touch this many on (its move and the time until "
                              "it), so the network's state holds where a stroke is going; training only, the "
                              "model file and its playing are as without; 0: none.", type=click.IntRange(0, 256))
@_train_option("--look-ahead-weight", "With --look-ahead: its loss's weight beside the next touch's.",
               type=click.FloatRange(0, 10))
@click.option("--drafted", "drafted_paths", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Also train on these drafted answers of robojam distill (with --from: the model that made them), "
                   "beside the train split; the run then trains --epochs epochs and keeps the last.")
@click.option("--include-responses", is_flag=True,
              help="From robojam serve's touch logs, also train on robojam's own responses "
                   "(by default only the performers' touches).")
@click.option("--verbose", is_flag=True, callback=lambda ctx, param, value: _verbose(value), expose_value=False,
              help="Also show TensorFlow's own start-up lines.")
def train(data, output, base_path, drafted_paths, include_responses, **given):
    """Train a model on DATA: .npz corpora, CSV performances, robojam serve's touch-log
    folders, or folders of CSV performances.

    Performances are split by a hash of their content: 80% train, 10%
    validation (early stopping), 10% test, never seen in training (score it
    with `robojam eval DATA --split test`). With --from, fine-tune a model on
    your own playing: the summary compares it with the base model on the
    validation split of DATA.
    """
    _require("keras", "train", "robojam train")
    from robojam.core.corpus import load_performances
    from robojam.core.modelfile import load_model
    from robojam.core.touchlog import PERFORMER, ROBOJAM
    from robojam.train.training import train as run_training, train_options

    performances = load_performances(list(data), (PERFORMER, ROBOJAM) if include_responses else (PERFORMER,))
    base = None
    if base_path is not None:
        base = load_model(None if str(base_path) == "default" else base_path)
    options = train_options(None if base is None else str(base_path), **given)
    drafted = load_performances(list(drafted_paths)) if drafted_paths else []
    model = run_training(performances, options, output, sources=[str(d) for d in data], base=base,
                         drafted=drafted)
    info = model.metadata["training"]
    score = model.metadata["score"]
    kept = "the last epoch's validation loss" if drafted else "best validation loss"
    click.echo(f"\nsaved {output}: {model.describe()}\n"
               f"  {info['epochs_run']} epochs in {info['seconds']:.0f} s, {kept} "
               f"{info['best_val_loss']:.4f}\n"
               f"  validation score {score['nll_per_event']:.4f} nats/event over {score['events']} events")
    if info.get("kept_base"):
        click.echo("  no epoch beat the base model on the validation data, so the base model was saved unchanged")
    elif "base_score" in model.metadata:
        gain = model.metadata["base_score"]["nll_per_event"] - score["nll_per_event"]
        click.echo(f"  the base model scores {model.metadata['base_score']['nll_per_event']:.4f} there: "
                   f"fine-tuning {'gained' if gain >= 0 else 'lost'} {abs(gain):.4f} nats/event")


@main.command(name="eval", epilog=SAMPLING_EPILOG)
@click.argument("data", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--model", "model_path", type=MODEL, help=MODEL_HELP)
@click.option("--split", type=click.Choice(["all", "train", "val", "test"]), default="all", show_default=True,
              help="Score only this split of DATA (by content hash, as in training). With --realism, "
                   "val and test are judged by classifiers that learned from the earlier splits' pairs.")
@click.option("--yardstick", is_flag=True,
              help="Score the non-neural yardstick instead, fitted on the train split of DATA.")
@click.option("--realism", is_flag=True,
              help="Report how human-like the model's responses are: each performance's first half is a call, "
                   "its second half the human continuation; two classifiers (on features, and on raw runs of "
                   "touches) try to tell the model's responses from them (needs the eval extra: "
                   "scikit-learn). See docs/realism.md.")
@click.option("--steer", "steer", is_flag=True,
              help="Report what each knob does instead (respond --steer): the calls of the split answered with "
                   "each knob at -1.5, 0 and +1.5.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="With --realism or --steer: random seed for the responses (and the realism report's folds).")
@_sampling_options("With --realism or --steer: ")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
              help="With --realism: also draw each feature's distribution (human against robojam) and a few "
                   "calls with both continuations to this PNG.")
@click.option("--json", "as_json", is_flag=True, help="Print the score (or the realism report) as JSON.")
@_drafts_option("With --realism or --steer: ")
def evaluate(data, model_path, split, yardstick, realism, steer, seed, temp, sigma_temp, temperatures, plot_path,
             as_json, drafts):
    """Score a model on DATA: mean negative log-likelihood per touch, in nats (lower is better).

    With --realism, report how human-like its responses are instead: the
    worse AUC of two classifiers (0.5: indistinguishable from people; held
    out for --split val or test), a control, a sanity check, the features that
    give responses away, how well responses follow their call's style and
    shapes, how much they copy, the edge share and the held-out score.
    """
    from robojam.core.corpus import load_performances, select_split

    if (not realism or steer) and plot_path:
        raise click.UsageError("--plot draws the realism report: add --realism, without --steer")
    if (realism or steer) and yardstick:
        raise click.UsageError("choose one of --realism, --steer and --yardstick (--steer --realism: both)")
    performances = load_performances(list(data))
    if steer:
        _steer_report(performances, _load_model_with(model_path, temperatures), split, seed, temp, sigma_temp,
                      realism, as_json, drafts)
        return
    if realism:
        model = _load_model_with(model_path, temperatures)
        _realism(performances, model, split, seed, temp, sigma_temp, plot_path, as_json, drafts)
        return
    scored = select_split(performances, split)
    if yardstick:
        result, name = _yardstick_score(performances, scored), "yardstick"
    else:
        from robojam.train.evaluate import score_model
        from robojam.core.modelfile import load_model
        model = load_model(model_path)
        result, name = score_model(model, scored), model.describe()
    if as_json:
        click.echo(json.dumps(result.to_dict()))
    else:
        click.echo(f"{name}\n{result.nll_per_event:.4f} nats/event over {result.events} events "
                   f"in {result.performances} performances ({split})")


def _realism(performances, model, split, seed, temp, sigma_temp, plot_path, as_json, drafts):
    from robojam.train.realism import realism_study
    from robojam.train.realism_text import format_report

    if plot_path:
        from robojam.tools.realism_plot import check_plot_path
        check_plot_path(plot_path)
    study = realism_study(model, performances, split=split, seed=seed, temp=temp, sigma_temp=sigma_temp,
                          drafts=drafts)
    click.echo(json.dumps(study.report, indent=2) if as_json else format_report(study.report))
    if plot_path:
        from robojam.tools.realism_plot import plot_realism
        drawn = plot_realism(study, plot_path)
        click.echo(f"{plot_path}: feature distributions and {drawn} pairs drawn", err=as_json)


def _yardstick_score(performances, scored):
    from robojam.core.corpus import select_split, usable
    from robojam.train.evaluate import score
    from robojam.train.yardstick import Yardstick

    train_set = [clean for clean, _ in usable(select_split(performances, "train"))]
    if not train_set:
        raise RobojamError("no training performances to fit the yardstick on")
    return score(Yardstick.fit(train_set).event_log_probs, scored)


def _steer_report(performances, model, split, seed, temp, sigma_temp, realism, as_json, drafts) -> None:
    """eval --steer: what each knob does; with --realism, the realism AUC at each knob's ends too."""
    from robojam.train.steering_report import format_steer_report, realism_at_levels, steer_report

    report = steer_report(model, performances, split=split, seed=seed, temp=temp, sigma_temp=sigma_temp,
                          drafts=drafts)
    if realism:
        def progress(done, of, steer):
            setting = ", ".join(f"{k} {v:+g}" for k, v in steer.items()) or "unsteered"
            click.echo(f"realism {done + 1}/{of}: {setting}", err=True)
        report["realism"] = realism_at_levels(model, performances, split=split, seed=seed, temp=temp,
                                              sigma_temp=sigma_temp, progress=progress, drafts=drafts)
    click.echo(json.dumps(report, indent=2) if as_json else format_steer_report(report))


@main.command()
@click.argument("performances", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Image to write (PNG).")
def plot(performances, output):
    """Draw performances side by side as touch trails coloured by time.

    Give a call then its response to see what the model played.
    """
    from robojam.core.performance import read_csv
    from robojam.tools.plot import plot_performances

    plot_performances([(p.stem, read_csv(p)) for p in performances], output)
    click.echo(f"{output}: {len(performances)} performance(s) drawn")


@main.command()
@click.option("--model", "model_path", type=MODEL, help=MODEL_HELP)
@click.option("--steps", type=click.IntRange(100, 1_000_000), default=5000, show_default=True,
              help="Engine steps to time.")
@click.option("--no-keras", is_flag=True, help="Skip the Keras reference (model(x) per step).")
@click.option("--no-litert", is_flag=True,
              help="Skip the LiteRT reference (IMPSY's fast path: the LiteRT interpreter per step).")
@click.option("--no-live", is_flag=True, help="Skip the live server figures (OSC over loopback).")
@click.option("--no-midi", is_flag=True,
              help="Skip the MIDI timing figures (how late note-ons arrive on real JACK MIDI ports; measured on "
                   "the running JACK server, or on one of its own with the dummy driver if jackd is installed).")
@click.option("--soak", "soak_minutes", type=click.FloatRange(min=0.05, max=24 * 60),
              help="Instead, play a real robojam serve for this many minutes with --performers performers, "
                   "reporting memory, responses, drops and first-response latency minute by minute.")
@click.option("--swap-flood", is_flag=True,
              help="Instead, play a real robojam serve quiet and then while a sender on this machine asks for "
                   "a model change 100 times a second (two models in turn), three rounds of 8 s each, and "
                   "report timing and feed-latency p99 quiet against flooded.")
@click.option("--performers", type=click.IntRange(1, 512),
              help="With --soak (default 32) or --swap-flood (default 4): performers playing call-and-response "
                   "at once, each with its own session id.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--verbose", is_flag=True, callback=lambda ctx, param, value: _verbose(value), expose_value=False,
              help="Also show TensorFlow's and LiteRT's own start-up lines.")
def bench(model_path, steps, no_keras, no_litert, no_live, no_midi, soak_minutes, swap_flood, performers,
          as_json):
    """Time the inference engine against the Keras and LiteRT references, robojam serve over
    OSC on loopback and MIDI on real ports, on this machine; or, with --soak, play a server for long;
    or, with --swap-flood, play one while a sender floods it with model changes."""
    report = (lambda line: None) if as_json else click.echo
    if soak_minutes is not None and swap_flood:
        raise click.UsageError("--soak and --swap-flood are separate runs: give one")
    if soak_minutes is not None:
        from robojam.tools.bench_soak import run_soak
        result = run_soak(soak_minutes, performers or 32, model_path, report=report)
        click.echo(json.dumps(result, indent=2) if as_json else json.dumps({k: v for k, v in result.items()
                                                                            if k != "minutes"}))
        return
    if swap_flood:
        from robojam.tools.bench_swap import run_swap_flood
        result = run_swap_flood(performers=performers or 4, model_path=model_path, report=report)
        click.echo(json.dumps(result, indent=2) if as_json else json.dumps({k: v for k, v in result.items()
                                                                            if k != "swap_flood_rounds"}))
        return
    if not no_keras:
        _require("keras", "train", "robojam bench's Keras reference (skip it with --no-keras)")
    if not no_litert:
        _require("keras", "train", "robojam bench's LiteRT reference (skip it with --no-litert)")
        _require("ai_edge_litert", "bench", "robojam bench's LiteRT reference (skip it with --no-litert)")
    from robojam.core.modelfile import load_model
    from robojam.tools.bench import run_bench

    result = run_bench(load_model(model_path), with_keras=not no_keras, with_litert=not no_litert, steps=steps)
    if not no_live:
        from robojam.tools.bench_drafts import run_drafts_bench
        from robojam.tools.bench_live import run_live_bench
        result.update(run_live_bench(model_path))
        result.update(run_drafts_bench(model_path))
    if not no_midi:
        from robojam.tools.bench_midi import run_midi_bench
        result.update(run_midi_bench(model_path))
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        click.echo(f"{key:>34}: {value:.4f}" if isinstance(value, float) else f"{key:>34}: {value}")


IMPORT_FORMATS = ("impsy-npz", "impsy-log", "csv", "columns")  # robojam.core.importers.FORMATS


@main.command(name="import")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write the performance CSVs to (created if missing): one SOURCE-STEM-N.csv "
                   "per performance.")
@click.option("--format", "format_", type=click.Choice(IMPORT_FORMATS),
              help="Read every source as this format: impsy-npz (IMPSY dataset), impsy-log (IMPSY log), "
                   "csv (RoboJam/MicroJam CSV), columns (any CSV, with --columns). Default: by each file's "
                   "suffix (.npz, .log, .csv) and content.")
@click.option("--columns", help="Read CSV files through this mapping of their columns, in order: time (seconds "
                                "from the start) or dt (seconds since the previous touch), x, y, and optionally "
                                "z and moving; - or skip ignores a column. E.g. dt,x,y,z or time,-,x,y.")
@click.option("--scale", help="With --columns: divide x and y by this (e.g. 1024 for pixels), or x and y by two "
                              "numbers (1024,768).")
@click.option("--header/--no-header", default=None,
              help="With --columns: the first row is a header to skip, or data. Default: skip it if it is "
                   "not numeric.")
@click.option("--gap", type=click.FloatRange(min=0, min_open=True), default=3.0, show_default=True,
              help="IMPSY logs and robojam serve's logs: a pause between the performer's touches longer than "
                   "this many seconds starts a new performance.")
@click.option("--force", is_flag=True, help="Overwrite CSVs already in the output folder.")
def import_command(sources, output, format_, columns, scale, header, gap, force):
    """Turn other apps' recordings in SOURCES into robojam performance CSVs.

    Reads IMPSY datasets (.npz, key perfs: rows dt, x1, ..., xn; y is 0.5
    for one-dimensional data), IMPSY logs (.log; the performer's interface
    rows only), RoboJam and MicroJam CSVs and robojam serve's touch logs
    (.csv), and any CSV through --columns. Folders are walked for these
    files. Nothing is written if any source is malformed.
    """
    from robojam.core.importers import ColumnMap, import_sources, parse_columns, parse_scale, total_summary

    if format_ == "columns" and not columns:
        raise click.UsageError("--format columns needs --columns")
    if columns and format_ not in (None, "columns"):
        raise click.UsageError(f"--columns reads CSV files; it does not apply to --format {format_}")
    if not columns and (scale or header is not None):
        raise click.UsageError("--scale, --header and --no-header apply with --columns")
    column_map = None
    if columns:
        try:
            column_map = ColumnMap(parse_columns(columns), parse_scale(scale) if scale else (1.0, 1.0), header)
        except RobojamError as e:
            raise click.UsageError(str(e)) from None
    results = import_sources(list(sources), output, format_, column_map, gap, force)
    for result in results:
        click.echo(result.summary())
    click.echo(total_summary(results, output))


SERVE_DEFAULTS = DEFAULTS  # robojam.live.knobs: every serve setting's default, as presets and configs start


def _serve_options(command):
    """Every serve option, made from its knob (robojam.live.knobs): its range or choices, help and default."""
    for knob in reversed(SERVE.values()):
        if knob.kind != "table":
            command = _knob_option(knob)(command)
    return command


KNOB_TYPES = {"model": MODEL, "path": click.Path(path_type=Path), "dir": click.Path(file_okay=False, path_type=Path),
              "file": click.Path(dir_okay=False, path_type=Path)}


def _knob_option(knob):
    if knob.kind == "flag":
        return click.option(knob.option, is_flag=True, default=None, help=knob.help, hidden=knob.advanced)
    shown = "" if knob.default in (None, [], False) else f" [default: {knob.default}]"
    kwargs = {"type": KNOB_TYPES.get(knob.kind), "metavar": knob.metavar, "multiple": knob.kind == "list"}
    if knob.range is not None:
        kwargs["type"] = _limited(knob.name)
    if knob.choices:
        kwargs["type"] = click.Choice(knob.choices)
    if knob.flag_value is not None:
        kwargs.update(is_flag=False, flag_value=knob.flag_value)
    return click.option(knob.option, default=None, help=knob.help + shown, hidden=knob.advanced, **kwargs)


@main.command(epilog="Model builders' sampling controls --temp and --sigma-temp (live: /robojam/temp, "
                     "/robojam/sigma_temp) work here too: see robojam tune --help.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML file with any of these settings (long option names as keys).")
@click.option("--preset", help="A shipped preset from server/presets: local, lan, ensemble, touchosc, "
                               "microjam, gm-synth, daw, impsy.")
@_serve_options
def serve(config_path, preset, **options):
    """Play live: listen for touches over OSC and answer over OSC and MIDI.

    The protocol is in server/PROTOCOL.md (or run `robojam protocol`).
    Ctrl-C or SIGTERM stops cleanly: all MIDI notes off, logs closed.
    """
    from robojam.live.assemble import start_server

    settings = _merge_serve_settings(config_path, preset, options)
    start_server(settings, echo=click.echo)


def _merge_serve_settings(config_path, preset, options) -> dict:
    from robojam.config import load_config, load_preset

    known = set(SERVE_DEFAULTS)
    settings = dict(SERVE_DEFAULTS)
    if preset:
        settings.update(load_preset(preset, known))
    if config_path:
        settings.update(load_config(config_path, known))
    settings.update({k: v for k, v in options.items() if v is not None and v != ()})
    return settings


@main.command()
@click.argument("call", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--to", "destination", default="127.0.0.1:5000", show_default=True,
              help="Where robojam serve listens (HOST:PORT).")
@click.option("--listen-port", type=click.IntRange(0, 65535), default=5001, show_default=True,
              help="Port to hear the response on (robojam serve's --reply-port).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the response (CSV).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also draw the call and the response side by side to this PNG.")
@click.option("--session", help="Session id to play as (for several performers on one host).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=15.0, show_default=True,
              help="Seconds to wait after the call for the response to end.")
@click.option("--no-respond", is_flag=True,
              help="Do not ask for a response: wait for the server's silence threshold instead.")
def play(call, destination, listen_port, output, plot_path, session, timeout, no_respond):
    """Send the performance in CALL to robojam serve in real time and record its response.

    The first thing to run to see robojam work, and a way to test a stage
    setup without a touch screen.
    """
    from robojam.live.transport import parse_destination
    from robojam.core.performance import read_csv, write_csv
    from robojam.tools.play import play as play_call

    performance = read_csv(call)
    to = parse_destination(destination)
    click.echo(f"playing {len(performance)} touches ({performance.duration:.1f} s) to {to[0]}:{to[1]}...")
    result = play_call(performance, to, listen_port, timeout=timeout, session=session,
                       respond_now=not no_respond)
    _write(lambda: write_csv(result.response, output), output)
    click.echo(f"{output}: {len(result.response)} touches over {result.response.duration:.2f} s, "
               f"answering {result.sent} touches (waited {result.seconds_waited:.1f} s)")
    if not result.complete:
        click.echo("warning: the response was cut off by --timeout", err=True)
    if plot_path:
        from robojam.tools.plot import plot_performances
        plot_performances([("call", performance), ("response", result.response)], plot_path)
        click.echo(f"{plot_path}: call and response drawn")


@main.command()
@click.argument("model_path", metavar="MODEL", type=MODEL)
@click.option("--shape", type=click.FloatRange(*TEMPERATURE_LIMITS),
              help="Set the shape temperature: scales the variance of the movement (below 1: smoother strokes).")
@click.option("--rhythm", type=click.FloatRange(*TEMPERATURE_LIMITS),
              help="Set the rhythm temperature: scales the variance of the timing.")
@click.option("--gap-tilt", type=click.FloatRange(*TILT_LIMITS), help="Set the gap tilt. " + GAP_TILT_HELP + ".")
@click.option("--rim", type=click.FloatRange(*RIM_LIMITS), help="Set the rim. " + RIM_HELP + ".")
@click.option("--rim-keep", type=click.FloatRange(*KEEP_LIMITS), help="Set the rim keep. " + RIM_KEEP_HELP + ".")
@click.option("--echo", type=click.FloatRange(*ECHO_LIMITS), help="Set the echo. " + ECHO_HELP + ".")
def tune(model_path, **parts):
    """The model builder's sampling controls: show or set MODEL's own.

    \b
    A model plays at its own sampling settings, which this shows, or sets
    in its model.json (nothing else changes):
      --shape, --rhythm  temperatures of the movement and of the timing (1)
      --gap-tilt         leaning towards longer gaps (0)
      --rim, --rim-keep  keeping touches off the canvas's rim (none)
      --echo             the chance a new stroke leaps as the call's did (0)

    \b
    respond and eval take each of them for one run (--shape-temp,
    --rhythm-temp, --gap-tilt, --rim, --rim-keep, --echo), and RoboJam's
    two temperatures besides, for one run or live (serve, OSC):
      --temp             mixture-weight temperature (1)
      --sigma-temp       scales every variance, on top of the model's (1)

    Choose them with robojam eval DATA --realism --split val, then set them
    here (docs/model.md). Players steer with knobs instead (docs/steering.md).
    """
    from robojam.core.modelfile import write_temperatures

    given = _given(parts)
    model = _load_model_with(model_path, given)
    if given:
        write_temperatures(model_path, model.temperatures)
    click.echo(f"{model_path}: {model.temperatures.describe()}")


@main.command()
@click.argument("data", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--model", "model_path", type=MODEL, required=True,
              help="The model folder whose answers the selector learns; selector.npz is written into it.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed for the answers it learns from.")
@click.option("--drafts", type=click.IntRange(1, MAX_DRAFTS), default=1, show_default=True,
              help="A further round: learn from answers drafted with MODEL's own selector, this many candidates a "
                   "phrase, and average the new selector with it (1: learn afresh from plain answers).")
@click.option("--reads-call", is_flag=True,
              help="Read each run beside its call's features, so that the selector learns which answers people "
                   "give to which calls (a further round reads the call when MODEL's selector does).")
def selector(data, model_path, seed, drafts, reads_call):
    """Learn MODEL's drafts' selector from DATA's train split (needs the eval extra: scikit-learn).

    The selector learns to tell the model's plain answers to the train
    split's calls from the people's own continuations, then picks, among
    several drafts of an answer, the one most like a person's (respond
    --drafts, the HTTP API). Retrain it whenever the weights change. With
    --drafts N, a further round learns from answers drafted by the selector
    MODEL has, and the two are averaged (the shipped one: --drafts 8 once).
    """
    from robojam.core.corpus import load_performances
    from robojam.core.modelfile import load_model
    from robojam.core.selector import save_selector
    from robojam.train.selector import learn_selector

    _require("sklearn", "eval", "robojam selector")
    model = load_model(model_path)
    click.echo("answering the train split's calls and fitting the selector ...", err=True)
    fitted = learn_selector(model, load_performances(list(data)), seed, drafts, reads_call)
    path = save_selector(fitted, model_path.parent if model_path.name == "model.json" else model_path)
    reads = ", reading the call" if fitted.context else ""
    click.echo(f"{path}: {len(fitted.roots)} trees, {len(fitted.leaf)} nodes, grid 1/{fitted.points}{reads}")


@main.command()
@click.argument("data", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--model", "model_path", type=MODEL, help=MODEL_HELP)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The .npz corpus of drafted answers to write (the published corpus layout).")
@_drafts_option("")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed for the answers.")
def distill(data, model_path, output, drafts, seed):
    """Answer DATA's train-split calls as robojam plays, for MODEL to learn from.

    Each call (a performance's first half) is answered with drafting, as
    robojam respond does, for as long as the person went on, and written
    with its call as one performance. Fine-tune on them beside the corpus:
    robojam train DATA --from MODEL --drafted OUTPUT (docs/model.md).
    """
    from robojam.core.corpus import load_performances, save_corpus_npz
    from robojam.core.modelfile import load_model
    from robojam.train.distill import calls_to_answer, drafted_answers

    if output.suffix.lower() != ".npz":
        raise click.BadParameter("the drafted answers are an .npz corpus: name it ending .npz", param_hint="-o")
    model = load_model(model_path)
    pairs = calls_to_answer(load_performances(list(data)))
    with click.progressbar(length=len(pairs), label=f"answering {len(pairs)} calls", file=sys.stderr) as bar:
        performances = drafted_answers(model, pairs, drafts, seed, progress=bar.update)
    save_corpus_npz(performances, output)
    click.echo(f"{output}: {len(performances)} drafted answers, "
               f"{sum(len(p) for p in performances):,} touches")


@main.command()
def protocol():
    """Print the OSC protocol reference (Markdown, as in server/PROTOCOL.md)."""
    from robojam.live.protocol import reference

    click.echo(reference(), nl=False)


if __name__ == "__main__":
    sys.exit(main())
