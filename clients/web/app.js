/**
 * robojam's touch instrument in the browser.
 *
 * The page talks to `robojam serve --web` over a WebSocket at /ws, sending and
 * receiving the OSC protocol's messages as JSON: {"address": ..., "args": [...]}.
 * The performer's touches (cyan) and robojam's answers (orange) are drawn as
 * trails that fade over a few seconds and played by a small Web Audio synth:
 * x picks a note of a pentatonic scale, y opens the filter (brighter at the top).
 * What robojam is about to play (/robojam/plan) is drawn ahead of its finger as
 * a ghost trace, fainter the further ahead, each point gone once it is played.
 *
 * `window.robojam` exposes the page's state and counters for tests.
 */

const COLOURS = { performer: "#29d3ff", robojam: "#ff8a3d" };
const BACKGROUND = "#0b0e14";
const TRAIL_MS = 3000;
const GHOST_MS = 2500;             // the ghost trace fades out this far ahead
const STROKE_GAP_MS = 100;         // as robojam.core.performance: a longer gap or a jump starts a stroke
const STROKE_JUMP = 0.1;
const HOOK_RECORD = 2000;          // entries kept in window.robojam's records of touches
const FADE_STEPS = 16;          // opacity levels a fading trail is drawn in
const SEND_INTERVAL_MS = 15;       // ~60 touches a second per finger
const RECONNECT_MAX_MS = 5000;
const SCALE = [0, 2, 4, 7, 9];     // major pentatonic
const OCTAVES = 3;
const ROOT_MIDI = 48;              // C3, as robojam's MIDI output
const SLIDERS = ["seconds", "threshold", "drafts", "temp", "sigma_temp"];
const KNOBS = ["density", "energy", "register", "size", "curl", "contrast"];  // /robojam/steer NAME VALUE
const TIMBRES = {
  performer: { wave: "sawtooth", q: 4, level: 0.22 },
  robojam: { wave: "square", q: 8, level: 0.16 },
};

const hook = (window.robojam = {
  state: "connecting",   // connecting, connected or disconnected
  playing: false,        // robojam's part is playing
  strokes: 0,            // the performer's strokes (one per finger down)
  touchesSent: 0,
  messagesReceived: 0,
  responses: 0,          // /robojam/response/start received
  responseTouches: 0,    // /robojam/response/touch received
  responsesDrawn: 0,     // response touches drawn on the canvas
  plans: 0,              // /robojam/plan messages received (empty ones included)
  ghost: [],             // the plan still to play: [x, y, ms ahead when last drawn]
  ghostDrawn: [],        // every planned touch, [x, y, performance.now() when first drawn]
  robojamTouches: [],    // robojam's touches, [x, y, performance.now() when received]
  reconnects: 0,
});

const canvas = document.getElementById("stage");
const context2d = canvas.getContext("2d");

/* --- connection ----------------------------------------------------------- */

const connection = { socket: null, failures: 0 };

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

function connect() {
  setConnectionState("connecting");
  const socket = new WebSocket(socketUrl());
  socket.addEventListener("open", () => {
    connection.failures = 0;
    setConnectionState("connected");
  });
  socket.addEventListener("message", (event) => receive(event.data));
  socket.addEventListener("close", () => reconnectLater());
  connection.socket = socket;
}

function reconnectLater() {
  const delay = Math.min(1000 * 2 ** connection.failures, RECONNECT_MAX_MS);
  connection.failures += 1;
  hook.reconnects += 1;
  setConnectionState("disconnected", `reconnecting in ${Math.round(delay / 1000)} s`);
  robojamUp();
  setPlaying(false);
  setTimeout(connect, delay);
}

function setConnectionState(state, detail) {
  hook.state = state;
  document.body.dataset.connection = state;
  const labels = { connecting: "connecting…", connected: "connected", disconnected: "offline" };
  document.getElementById("connection-label").textContent = detail ? `${labels[state]}, ${detail}` : labels[state];
}

function send(address, ...args) {
  const socket = connection.socket;
  if (!socket || socket.readyState !== WebSocket.OPEN) return false;
  socket.send(JSON.stringify({ address, args }));
  return true;
}

function receive(text) {
  let message;
  try {
    message = JSON.parse(text);
  } catch {
    return;
  }
  hook.messagesReceived += 1;
  const handler = HANDLERS[message.address];
  if (handler) handler(message.args || []);
}

const HANDLERS = {
  "/robojam/response/start": () => {
    hook.responses += 1;
    clearGhost();  // a part's plan begins anew
    setPlaying(true);
  },
  "/robojam/plan": (args) => receivePlan(args),
  "/robojam/response/touch": ([x, y, z]) => robojamTouch(x, y, z),
  "/robojam/response/up": () => robojamUp(),
  "/robojam/response/end": () => {
    robojamUp();
    clearGhost();
    setPlaying(false);
  },
  "/robojam/web/settings": (pairs) => applyServerSettings(pairs),
  "/robojam/model/changed": ([name]) => showModels(null, name),
  "/robojam/model/refused": ([why]) => {
    hook.modelRefused = why;
    document.getElementById("activity").textContent = "model refused";
  },
};

/* --- trails --------------------------------------------------------------- */

const trails = [];  // {part, open, points: [{x, y, z, t, drawn}]}

function startTrail(part) {
  const trail = { part, open: true, points: [] };
  trails.push(trail);
  return trail;
}

function addPoint(trail, x, y, z) {
  trail.points.push({ x, y, z, t: performance.now(), drawn: false });
}

function fade(ageMs) {
  return Math.max(0, 1 - ageMs / TRAIL_MS) ** 1.5;
}

function forgetOldPoints(now) {
  for (const trail of trails) {
    while (trail.points.length > 1 && now - trail.points[0].t > TRAIL_MS) trail.points.shift();
  }
  for (let i = trails.length - 1; i >= 0; i--) {
    const trail = trails[i];
    const last = trail.points[trail.points.length - 1];
    if (!trail.open && (!last || now - last.t > TRAIL_MS)) trails.splice(i, 1);
  }
}

function resizeCanvas() {
  const scale = window.devicePixelRatio || 1;
  const width = Math.round(canvas.clientWidth * scale);
  const height = Math.round(canvas.clientHeight * scale);
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  return scale;
}

function render(now) {
  const scale = resizeCanvas();
  context2d.globalAlpha = 1;
  context2d.fillStyle = BACKGROUND;
  context2d.fillRect(0, 0, canvas.width, canvas.height);
  forgetOldPoints(now);
  for (const trail of trails) drawTrail(trail, now, scale);
  drawGhost(now, scale);
  requestAnimationFrame(render);
}

function drawTrail(trail, now, scale) {
  const points = trail.points;
  context2d.strokeStyle = context2d.fillStyle = COLOURS[trail.part];
  const runs = fadeRuns(points, now, scale);
  for (const run of runs) {
    drawLine(run.points, run.width * 3, run.alpha * 0.18);  // glow
    drawLine(run.points, run.width, run.alpha);
  }
  roundEnds(runs);
  const last = points[points.length - 1];
  if (last && (trail.open || points.length === 1)) {
    drawDot(toCanvas(last), (trail.open ? 12 : 6) * scale, trail.open ? 1 : fade(now - last.t));
  }
  countDrawn(trail);
}

/**
 * A trail split into runs of points drawn at one opacity. Drawing each segment
 * on its own would overlap the round ends at every joint, beading the line;
 * runs meet with flat ends for the same reason, and only the trail's own ends are rounded.
 */
function fadeRuns(points, now, scale) {
  const runs = [];
  let run = null;
  for (let i = 1; i < points.length; i++) {
    const alpha = Math.ceil(fade(now - points[i].t) * FADE_STEPS) / FADE_STEPS;
    if (!run || run.alpha !== alpha) {
      run = { alpha, width: (4 + 8 * points[i].z) * scale, points: [toCanvas(points[i - 1])] };
      runs.push(run);
    }
    run.points.push(toCanvas(points[i]));
  }
  return runs;
}

function toCanvas(point) {
  return [point.x * canvas.width, point.y * canvas.height];
}

function roundEnds(runs) {
  if (!runs.length) return;
  const first = runs[0];
  const last = runs[runs.length - 1];
  for (const [run, centre] of [[first, first.points[0]], [last, last.points[last.points.length - 1]]]) {
    drawCircle(centre, run.width * 1.5, run.alpha * 0.18);  // glow
    drawCircle(centre, run.width / 2, run.alpha);
  }
}

function drawLine(line, width, alpha) {
  context2d.globalAlpha = alpha;
  context2d.lineWidth = width;
  context2d.lineCap = "butt";
  context2d.lineJoin = "round";
  context2d.beginPath();
  context2d.moveTo(...line[0]);
  for (const [x, y] of line.slice(1)) context2d.lineTo(x, y);
  context2d.stroke();
}

function drawDot(centre, radius, alpha) {
  drawCircle(centre, radius * 1.7, alpha * 0.2);
  drawCircle(centre, radius, alpha);
}

function drawCircle([x, y], radius, alpha) {
  context2d.globalAlpha = alpha;
  context2d.beginPath();
  context2d.arc(x, y, radius, 0, 2 * Math.PI);
  context2d.fill();
}

function countDrawn(trail) {
  for (const point of trail.points) {
    if (point.drawn) continue;
    point.drawn = true;
    if (trail.part === "robojam") hook.responsesDrawn += 1;
  }
}

/* --- the plan: a ghost trace ahead of robojam's finger --------------------- */

const ghost = [];  // {x, y, t (when it will play, performance.now() ms), drawn}

/** /robojam/plan: (seconds from now, x, y) triples added to the plan; none clear it. */
function receivePlan(args) {
  hook.plans += 1;
  const numbers = args.filter((value) => typeof value === "number");  // past a session id, if any
  if (numbers.length < 3) return clearGhost();
  const now = performance.now();
  for (let i = 0; i + 2 < numbers.length; i += 3) {
    ghost.push({ t: now + 1000 * numbers[i], x: numbers[i + 1], y: numbers[i + 2], drawn: false });
  }
}

function clearGhost() {
  ghost.length = 0;
  hook.ghost = [];
}

/** A touch robojam played: it, and any planned before it, are no longer ahead. */
function playedGhost(x, y) {
  const index = ghost.findIndex((point) => point.x === x && point.y === y);
  if (index >= 0) ghost.splice(0, index + 1);
}

function drawGhost(now, scale) {
  while (ghost.length && ghost[0].t < now - 250) ghost.shift();  // missed: long past its time
  context2d.strokeStyle = context2d.fillStyle = COLOURS.robojam;
  const last = robojam.trail && robojam.trail.points[robojam.trail.points.length - 1];
  let previous = last ? { x: last.x, y: last.y, t: now } : null;
  for (const point of ghost) {
    const ahead = Math.max(0, point.t - now);
    const alpha = 0.55 * Math.max(0, 1 - ahead / GHOST_MS) ** 1.2;
    const centre = toCanvas(point);
    if (previous && point.t - previous.t <= STROKE_GAP_MS && Math.hypot(point.x - previous.x, point.y - previous.y) <= STROKE_JUMP) {
      context2d.setLineDash([6 * scale, 6 * scale]);
      drawLine([toCanvas(previous), centre], 2 * scale, alpha);
      context2d.setLineDash([]);
    }
    drawCircle(centre, 3 * scale, alpha);
    if (!point.drawn && alpha > 0) {
      point.drawn = true;
      remember(hook.ghostDrawn, [point.x, point.y, performance.now()]);
    }
    previous = point;
  }
  hook.ghost = ghost.map((point) => [point.x, point.y, Math.round(point.t - now)]);
}

/* --- sound ---------------------------------------------------------------- */

const audio = { context: null, master: null, enabled: true };
const silentVoice = { start() {}, move() {}, stop() {} };

/** Audio may only start from a user gesture (browsers' autoplay rules). */
function startAudio() {
  if (audio.context) {
    if (audio.context.state === "suspended") audio.context.resume();
    return;
  }
  const AudioContextClass = window.AudioContext || window.webkitAudioContext;
  if (!AudioContextClass) return;
  audio.context = new AudioContextClass();
  const limiter = audio.context.createDynamicsCompressor();
  audio.master = audio.context.createGain();
  audio.master.gain.value = audio.enabled ? 0.8 : 0;
  audio.master.connect(limiter).connect(audio.context.destination);
}

function pitchOf(x) {
  const steps = SCALE.length * OCTAVES;
  const index = Math.round(clamp01(x) * steps);
  const midi = ROOT_MIDI + 12 * Math.floor(index / SCALE.length) + SCALE[index % SCALE.length];
  return 440 * 2 ** ((midi - 69) / 12);
}

function cutoffOf(y) {
  return 250 * 2 ** ((1 - clamp01(y)) * 5.5);  // 250 Hz at the bottom to ~11 kHz at the top
}

function makeVoice(part) {
  if (!audio.context) return silentVoice;
  const timbre = TIMBRES[part];
  const ac = audio.context;
  const oscillator = ac.createOscillator();
  const filter = ac.createBiquadFilter();
  const amp = ac.createGain();
  oscillator.type = timbre.wave;
  filter.type = "lowpass";
  filter.Q.value = timbre.q;
  amp.gain.value = 0;
  oscillator.connect(filter).connect(amp).connect(audio.master);
  return {
    start(x, y, z) {
      oscillator.frequency.value = pitchOf(x);
      filter.frequency.value = cutoffOf(y);
      oscillator.start();
      amp.gain.setTargetAtTime(timbre.level * (0.6 + 0.8 * clamp01(z)), ac.currentTime, 0.005);
    },
    move(x, y) {
      oscillator.frequency.setTargetAtTime(pitchOf(x), ac.currentTime, 0.015);  // a short glide
      filter.frequency.setTargetAtTime(cutoffOf(y), ac.currentTime, 0.03);
    },
    stop() {
      amp.gain.cancelScheduledValues(ac.currentTime);
      amp.gain.setTargetAtTime(0, ac.currentTime, 0.08);
      oscillator.stop(ac.currentTime + 0.6);
    },
  };
}

function setSound(enabled) {
  audio.enabled = enabled;
  if (audio.master) audio.master.gain.setTargetAtTime(enabled ? 0.8 : 0, audio.context.currentTime, 0.02);
}

/* --- the performer's fingers ---------------------------------------------- */

const fingers = new Map();  // pointerId -> {trail, voice, lastSent, pending}

function positionOf(event) {
  const box = canvas.getBoundingClientRect();
  return [(event.clientX - box.left) / box.width, (event.clientY - box.top) / box.height];
}

function pressureOf(event) {
  return event.pressure > 0 && event.pointerType !== "mouse" ? event.pressure : 0.5;
}

function sendTouch(finger, x, y, z) {
  finger.lastSent = performance.now();
  finger.pending = null;
  if (send("/robojam/touch", round4(x), round4(y), round4(z))) hook.touchesSent += 1;
}

function onPointerDown(event) {
  event.preventDefault();
  canvas.setPointerCapture(event.pointerId);
  startAudio();
  hideHint();
  const [x, y] = positionOf(event);
  const z = pressureOf(event);
  const finger = { trail: startTrail("performer"), voice: makeVoice("performer"), lastSent: 0, pending: null };
  fingers.set(event.pointerId, finger);
  hook.strokes += 1;
  addPoint(finger.trail, x, y, z);
  finger.voice.start(x, y, z);
  sendTouch(finger, x, y, z);
}

function onPointerMove(event) {
  const finger = fingers.get(event.pointerId);
  if (!finger) return;
  const [x, y] = positionOf(event);
  const z = pressureOf(event);
  addPoint(finger.trail, x, y, z);
  finger.voice.move(x, y);
  if (performance.now() - finger.lastSent >= SEND_INTERVAL_MS) sendTouch(finger, x, y, z);
  else finger.pending = [x, y, z];  // sent on lift if nothing newer goes first
}

function onPointerUp(event) {
  const finger = fingers.get(event.pointerId);
  if (!finger) return;
  fingers.delete(event.pointerId);
  startAudio();  // some mobile browsers unlock audio only on a finger's lift
  if (finger.pending) sendTouch(finger, ...finger.pending);
  send("/robojam/up");
  finger.trail.open = false;
  finger.voice.stop();
}

function listenToFingers() {
  canvas.addEventListener("pointerdown", onPointerDown);
  canvas.addEventListener("pointermove", onPointerMove);
  canvas.addEventListener("pointerup", onPointerUp);
  canvas.addEventListener("pointercancel", onPointerUp);
  canvas.addEventListener("contextmenu", (event) => event.preventDefault());
}

/* --- robojam's part ------------------------------------------------------- */

const robojam = { trail: null, voice: silentVoice };

function robojamTouch(x, y, z) {
  hook.responseTouches += 1;
  remember(hook.robojamTouches, [x, y, performance.now()]);
  playedGhost(x, y);
  if (!robojam.trail) {
    robojam.trail = startTrail("robojam");
    robojam.voice = makeVoice("robojam");
    robojam.voice.start(x, y, z);
  } else {
    robojam.voice.move(x, y);
  }
  addPoint(robojam.trail, x, y, z);
}

function robojamUp() {
  if (!robojam.trail) return;
  robojam.trail.open = false;
  robojam.trail = null;
  robojam.voice.stop();
  robojam.voice = silentVoice;
}

function setPlaying(playing) {
  hook.playing = playing;
  document.body.classList.toggle("playing", playing);
  document.getElementById("activity").textContent = playing ? "robojam playing" : "listening";
}

/* --- controls ------------------------------------------------------------- */

const changedByMusician = new Set();  // re-sent after a reconnect, which starts a fresh session
const limits = {};  // name -> [low, high]: the server's ranges (robojam.live.limits), sent on connecting

function controlValue(name) {
  if (name === "mode") return document.querySelector("input[name=mode]:checked").value;
  return Number(document.getElementById(name).value);
}

/** The models the server offers (names), and the one playing. */
function showModels(names, current) {
  const select = document.getElementById("model");
  if (names) {
    select.replaceChildren(...names.map((name) => new Option(name, name)));
  }
  if (current) {
    if (![...select.options].some((o) => o.value === current)) select.add(new Option(current, current));
    select.value = current;
  }
}

/** Keep each slider inside the server's range for its setting: a value outside is refused there. */
function applyLimits(ranges) {
  for (const name of [...SLIDERS, ...KNOBS]) {
    const range = ranges && ranges[name];
    if (!Array.isArray(range) || range.length !== 2) continue;
    const [low, high] = range.map(Number);
    if (!Number.isFinite(low) || !Number.isFinite(high) || low > high) continue;
    limits[name] = [low, high];
    const input = document.getElementById(name);
    input.min = Math.min(Math.max(Number(input.min), low), high);
    input.max = Math.max(Math.min(Number(input.max), high), Number(input.min));
    showValue(name);
  }
}

function withinLimits(name, value) {
  const range = limits[name];
  return !range || (value >= range[0] && value <= range[1]);
}

function setControl(name, value) {
  if (name === "limits") return applyLimits(value);
  if (name === "models") return showModels(value, null);
  if (name === "model") return showModels(null, value);
  if (name === "mode") {
    const radio = document.querySelector(`input[name=mode][value="${value}"]`);
    if (radio) radio.checked = true;
    showMode();
    return;
  }
  const input = document.getElementById(name);
  if (!input || typeof value !== "number" || !withinLimits(name, value)) return;
  if (value > Number(input.max)) input.max = value;
  if (value < Number(input.min)) input.min = value;
  input.value = value;
  showValue(name);
}

function sendControl(name) {
  startAudio();
  const value = controlValue(name);
  if (name !== "mode" && !withinLimits(name, value)) return;  // the server would refuse it
  changedByMusician.add(name);
  sendSetting(name, value);
}

/** A setting's message: a knob's is /robojam/steer NAME VALUE, any other's /robojam/NAME VALUE. */
function sendSetting(name, value) {
  if (KNOBS.includes(name)) send("/robojam/steer", name, value);
  else send(`/robojam/${name}`, value);
}

/** The server's settings on connect: show them, then re-apply what the musician changed. */
function applyServerSettings(pairs) {
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    if (!changedByMusician.has(pairs[i])) setControl(pairs[i], pairs[i + 1]);
  }
  for (const name of changedByMusician) {
    if (name === "mode" || withinLimits(name, controlValue(name))) sendSetting(name, controlValue(name));
  }
}

function showValue(name) {
  const output = document.querySelector(`output[for="${name}"]`);
  const digits = {seconds: 1, drafts: 0}[name] ?? 2;
  output.textContent = `${Number(controlValue(name)).toFixed(digits)}${output.dataset.unit || ""}`;
}

function showMode() {
  const duet = controlValue("mode") === "duet";
  document.getElementById("hint-mode").textContent = duet ? "robojam plays along with you." : "robojam answers when you pause.";
}

function setUpControls() {
  for (const name of [...SLIDERS, ...KNOBS]) {
    const input = document.getElementById(name);
    input.addEventListener("input", () => showValue(name));
    input.addEventListener("change", () => sendControl(name));
    showValue(name);
  }
  for (const radio of document.querySelectorAll("input[name=mode]")) {
    radio.addEventListener("change", () => {
      showMode();
      sendControl("mode");
    });
  }
  document.getElementById("model").addEventListener("change", (event) => {
    send("/robojam/model", event.target.value);  // for every performer: not re-sent after a reconnect
  });
  document.getElementById("respond").addEventListener("click", () => {
    startAudio();
    send("/robojam/respond");
  });
  document.getElementById("stop").addEventListener("click", () => send("/robojam/stop"));
  document.getElementById("sound").addEventListener("change", (event) => setSound(event.target.checked));
  document.getElementById("controls-toggle").addEventListener("click", togglePanel);
}

function togglePanel() {
  const panel = document.getElementById("panel");
  panel.hidden = !panel.hidden;
  document.getElementById("controls-toggle").setAttribute("aria-expanded", String(!panel.hidden));
}

function hideHint() {
  document.getElementById("hint").classList.add("gone");
}

/* --- helpers and start ---------------------------------------------------- */

function clamp01(value) {
  return Math.min(1, Math.max(0, value));
}

/** Keep a test's record short: the latest HOOK_RECORD entries. */
function remember(record, entry) {
  record.push(entry);
  if (record.length > HOOK_RECORD) record.splice(0, record.length - HOOK_RECORD);
}

function round4(value) {
  return Math.round(value * 10000) / 10000;
}

setUpControls();
listenToFingers();
connect();
requestAnimationFrame(render);
