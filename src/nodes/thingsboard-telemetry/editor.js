(function () {
  'use strict';

  function intIn(min, max) {
    return function (v) {
      if (v === '' || v === undefined || v === null) return true; // empty = default
      var n = Number(v);
      return Number.isInteger(n) && n >= min && n <= max;
    };
  }

  function isGateway(mode) {
    return mode === 'gateway-telemetry' || mode === 'gateway-attributes';
  }

  RED.nodes.registerType('thingsboard-telemetry', {
    category: 'network',
    color: '#9ec5e8',
    defaults: {
      name: { value: '' },
      mode: { value: 'telemetry' },
      key: { value: '' },
      device: { value: '' },
      deviceType: { value: '' },
      gatewayConnect: { value: true },
      timestampUnit: { value: 'ms' },
      decimal: { value: 'none' },
      decimalKeys: {
        value: '',
        validate: function (v) {
          var decimal = $('#node-input-decimal').length ? $('#node-input-decimal').val() : this.decimal;
          return decimal !== 'keys' || String(v || '').split(',').some(function (k) { return k.trim() !== ''; });
        }
      },
      nested: { value: 'json' },
      invalid: { value: 'drop' },
      numericStrings: { value: 'cast' },
      maxPacketSize: { value: 65536, validate: intIn(256, 268435460) },
      propertyReserve: { value: 0, validate: intIn(0, 65535) }
    },
    inputs: 1,
    outputs: 1,
    icon: 'thingsboard.svg',
    paletteLabel: function () {
      return this._('thingsboard-telemetry.paletteLabel');
    },
    label: function () {
      if (this.name) return this.name;
      var mode = this._('thingsboard-telemetry.mode.' + (this.mode || 'telemetry'));
      return isGateway(this.mode) && this.device ? mode + ': ' + this.device : mode;
    },
    labelStyle: function () {
      return this.name ? 'node_label_italic' : '';
    },
    inputLabels: function () {
      return this._('thingsboard-telemetry.inputLabel');
    },
    outputLabels: function () {
      return this._('thingsboard-telemetry.outputLabel');
    },
    oneditprepare: function () {
      function refresh() {
        var gw = isGateway($('#node-input-mode').val());
        $('.tb-gateway-row').toggle(gw);
        $('.tb-decimal-keys-row').toggle($('#node-input-decimal').val() === 'keys');
        $('.tb-keep-hint').toggle($('#node-input-numericStrings').val() === 'keep');
      }
      $('#node-input-mode, #node-input-decimal, #node-input-numericStrings').on('change', refresh);
      if (this.maxPacketSize === undefined || this.maxPacketSize === '') $('#node-input-maxPacketSize').val(65536);
      refresh();
    }
  });
})();
