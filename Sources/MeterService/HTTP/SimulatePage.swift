/// The page `meterd --simulate` serves at `/`: the meter as a person would see it (LCD, relay,
/// alarm LED, credit, what the last card tap did and the write-back on the card) and the
/// world's controls (load, buy credit with the test key, tap a card, cover, button). Plain HTML
/// and a little JavaScript over the same API as everyone else.
///
/// For a headless browser (and anyone bookmarking a demo), `#buy=50.00&load=2000&button&cover`
/// in the address performs those actions through the page's own handlers once it has loaded;
/// `power` toggles the supply like the "Cut power" button.
let simulatePage = """
  <!doctype html>
  <html lang="en">
  <head>
  <meta charset="utf-8">
  <title>meterd — simulated meter</title>
  <style>
    body { font-family: sans-serif; margin: 1.5em; background: #f4f4f0; color: #222; }
    h1 { font-size: 1.3em; }
    .meter { display: flex; gap: 2em; align-items: flex-start; flex-wrap: wrap; }
    .lcd { background: #9dbb5a; color: #1d2a10; font-family: monospace; font-size: 1.6em;
           padding: 0.4em 0.6em; border: 6px solid #333; border-radius: 6px; white-space: pre;
           min-width: 16ch; }
    .lamp { display: inline-block; width: 1em; height: 1em; border-radius: 50%;
            background: #555; vertical-align: middle; margin-right: 0.3em; }
    .lamp.on { background: #e33; box-shadow: 0 0 8px #e33; }
    .relay-closed { color: #176317; font-weight: bold; }
    .relay-open { color: #b01515; font-weight: bold; }
    fieldset { margin: 0.8em 0; border: 1px solid #aaa; }
    table td { padding: 0.15em 0.8em 0.15em 0; }
    #message { margin-top: 0.8em; min-height: 1.2em; }
  </style>
  </head>
  <body>
  <h1>Meter <span id="meter">…</span> (simulated)</h1>
  <div class="meter">
    <div>
      <div class="lcd"><div id="lcd-top">                </div><div id="lcd-bottom">                </div></div>
      <p><span id="led" class="lamp"></span>alarm LED</p>
    </div>
    <table>
      <tr><td>Supply</td><td id="supply">…</td></tr>
      <tr><td>Relay</td><td id="relay">…</td></tr>
      <tr><td>Held open by</td><td id="reasons">…</td></tr>
      <tr><td>Credit</td><td id="credit">…</td></tr>
      <tr><td>Alarms</td><td id="alarms">…</td></tr>
      <tr><td>Energy</td><td id="energy">…</td></tr>
      <tr><td>Power now</td><td id="power">…</td></tr>
      <tr><td>Load</td><td id="load">…</td></tr>
      <tr><td>Last card</td><td id="card-result">—</td></tr>
      <tr><td>Write-back on it</td><td id="write-back">—</td></tr>
    </table>
  </div>
  <fieldset><legend>Load</legend>
    <label>watts <input id="watts" type="number" min="0" max="100000" value="2000"></label>
    <label>volts <input id="volts" type="number" min="0" max="400" value="230"></label>
    <button id="apply-load">Apply load</button>
  </fieldset>
  <fieldset><legend>Credit</legend>
    <label>amount <input id="amount" value="50.00" size="8"></label>
    <button id="buy">Buy credit (test key)</button>
  </fieldset>
  <fieldset><legend>Meter</legend>
    <label>card <select id="card">
      <option value="customer">customer</option>
      <option value="inspection">inspection</option>
      <option value="clear-tamper">clear-tamper</option>
      <option value="relay-test">relay-test (held)</option>
      <option value="other-meter">another meter's customer card</option>
      <option value="forged">forged clear-tamper card</option>
      <option value="transport-keys">customer card on the transport key</option>
    </select></label>
    <button id="tap">Tap card</button>
    <button id="remove">Remove card</button>
    <button id="button">Press display button</button>
    <button id="cover">Open terminal cover</button>
    <button id="cut-power">Cut power</button>
  </fieldset>
  <div id="message"></div>
  <script>
  const $ = id => document.getElementById(id);
  let coverOpen = false;
  let powered = true;
  let loadShown = false;
  async function call(method, path, body) {
    const response = await fetch(path, { method, headers: { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    const data = text ? JSON.parse(text) : {};
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  }
  function say(text) { $('message').textContent = text; }
  async function refresh() {
    const [state, display, readings, load, card] = await Promise.all([
      call('GET', '/api/v1/state'), call('GET', '/api/v1/display'),
      call('GET', '/api/v1/readings'), call('GET', '/api/v1/sim/load'),
      call('GET', '/api/v1/sim/card')]);
    $('meter').textContent = state.meter;
    powered = state.powered;
    $('supply').textContent = powered ? 'on' : 'cut (the meter is off)';
    $('cut-power').textContent = powered ? 'Cut power' : 'Restore power';
    $('lcd-top').textContent = display.lines[0].padEnd(16);
    $('lcd-bottom').textContent = display.lines[1].padEnd(16);
    $('led').className = display.alarm_led ? 'lamp on' : 'lamp';
    $('relay').textContent = state.relay;
    $('relay').className = 'relay-' + state.relay;
    $('reasons').textContent = state.relay_reasons.join(', ') || '—';
    $('credit').textContent = state.credit;
    const alarms = [];
    if (state.low_credit) alarms.push('LOW CREDIT');
    if (state.latched_tamper) alarms.push('tamper');
    if (state.clock_invalid) alarms.push('clock invalid');
    $('alarms').textContent = alarms.join(', ') || 'none';
    $('energy').textContent = (readings.import_mwh / 1e6).toFixed(6) + ' kWh';
    $('power').textContent = readings.instantaneous
      ? (readings.instantaneous.active_power_mw / 1000).toFixed(0) + ' W' : '—';
    $('load').textContent = load.watts + ' W at ' + load.volts + ' V';
    $('card-result').textContent = card.result === 'none' ? '—'
      : card.card + ': ' + (card.result === 'refused' ? 'refused (' + card.refusal + ')'
      : card.result === 'on_reader' ? 'on the reader' : 'accepted')
      + (card.on_reader && card.result !== 'on_reader' ? ', on the reader' : '')
      + (card.result === 'none' || card.result === 'on_reader' ? ''
      : ' — ' + card.blocks_read + ' blocks read, ' + card.blocks_written + ' written');
    const wb = card.write_back;
    $('write-back').textContent = wb
      ? 'generation ' + wb.generation + ', signed by the meter: credit ' + wb.credit
        + ', purchase ' + wb.last_applied_sequence + ', ' + (wb.import_mwh / 1e6).toFixed(6)
        + ' kWh, relay ' + wb.relay
      : '—';
    if (!loadShown) {
      $('watts').value = load.watts;
      $('volts').value = load.volts;
      loadShown = true;
    }
  }
  const actions = {
    async load(watts) {
      if (watts !== undefined) $('watts').value = watts;
      await call('PUT', '/api/v1/sim/load',
        { watts: Number($('watts').value), volts: Number($('volts').value), bypass: false });
      say('load set to ' + $('watts').value + ' W');
    },
    async buy(amount) {
      if (amount !== undefined) $('amount').value = amount;
      const sale = await call('POST', '/api/v1/sim/buy', { amount: $('amount').value });
      say('purchase ' + sale.sequence + ' of ' + sale.amount + ': ' + sale.result);
    },
    async button() { await call('POST', '/api/v1/sim/button'); say('button pressed'); },
    async tap(card) {
      if (card !== undefined) $('card').value = card;
      await call('POST', '/api/v1/sim/tap', { card: $('card').value });
      say($('card').value + ' card ' + ($('card').value === 'relay-test' ? 'on the reader' : 'tapped'));
    },
    async remove() { await call('POST', '/api/v1/sim/remove'); say('card removed'); },
    async cover() {
      coverOpen = !coverOpen;
      await call('POST', '/api/v1/sim/cover', { open: coverOpen });
      $('cover').textContent = coverOpen ? 'Close terminal cover' : 'Open terminal cover';
      say(coverOpen ? 'cover opened' : 'cover closed');
    },
    async power() {
      await call('POST', '/api/v1/sim/power', { on: !powered });
      powered = !powered;
      say(powered ? 'power restored: the meter recovered from its journal' : 'power cut');
    },
  };
  function wire(id, action) {
    $(id).addEventListener('click', async () => {
      try { await action(); await refresh(); } catch (error) { say('refused: ' + error.message); }
    });
  }
  wire('apply-load', () => actions.load());
  wire('buy', () => actions.buy());
  wire('button', () => actions.button());
  wire('tap', () => actions.tap());
  wire('remove', () => actions.remove());
  wire('cover', () => actions.cover());
  wire('cut-power', () => actions.power());
  async function start() {
    await refresh().catch(error => say(error.message));
    for (const part of location.hash.slice(1).split('&').filter(Boolean)) {
      const [name, value] = part.split('=');
      try { await actions[name](value); } catch (error) { say('refused: ' + error.message); }
    }
    await refresh();
    document.body.dataset.ready = 'yes';
    setInterval(() => refresh().catch(error => say(error.message)), 1000);
  }
  start();
  </script>
  </body>
  </html>
  """
