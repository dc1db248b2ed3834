(function () {
  'use strict';

  // messages of this node set (locales/<lang>/mqtt5-in.json)
  function t(key) {
    return RED._('node-red-contrib-mqtt5-hub/mqtt5-in:' + key);
  }

  /** null when valid, else the message (MQTT 5 section 4.7). */
  function filterError(v) {
    if (!v) return t('mqtt5-in.errors.emptyFilter');
    var levels = String(v).split('/');
    for (var i = 0; i < levels.length; i++) {
      var l = levels[i];
      if (l.indexOf('#') >= 0 && (l !== '#' || i !== levels.length - 1)) return t('mqtt5-in.errors.hash');
      if (l.indexOf('+') >= 0 && l !== '+') return t('mqtt5-in.errors.plus');
    }
    if (levels[0] === '$share') return t('mqtt5-in.errors.share');
    return null;
  }

  RED.nodes.registerType('mqtt5-in', {
    category: 'network',
    color: '#9ec5e8',
    defaults: {
      name: { value: '' },
      client: { type: 'mqtt5-client', required: true },
      topic: {
        value: '',
        validate: function (v, opt) {
          var dyn = $('#node-input-inputs').length ? $('#node-input-inputs').val() === '1' : Number(this.inputs) === 1;
          if (dyn && !v) return true;
          var e = filterError(v);
          return e === null ? true : (opt ? e : false);
        }
      },
      qos: { value: '1' },
      shareGroup: {
        value: '',
        validate: function (v, opt) {
          if (!v || !/[/+#]/.test(v)) return true;
          return opt ? t('mqtt5-in.errors.group') : false;
        }
      },
      nl: {
        value: false,
        validate: function (v, opt) {
          var group = $('#node-input-shareGroup').length ? $('#node-input-shareGroup').val() : this.shareGroup;
          if (!v || !group) return true;
          return opt ? t('mqtt5-in.errors.nlShared') : false;
        }
      },
      rap: { value: false },
      rh: { value: '0' },
      datatype: { value: 'auto' },
      inputs: { value: 0 }
    },
    inputs: 0,
    outputs: 1,
    icon: 'mqtt5-in.svg',
    paletteLabel: 'mqtt5 in',
    label: function () {
      if (this.name) return this.name;
      if (Number(this.inputs) === 1) return t('mqtt5-in.label.dynamic');
      return this.shareGroup ? '$share/' + this.shareGroup + '/' + this.topic : (this.topic || 'mqtt5 in');
    },
    labelStyle: function () {
      return this.name ? 'node_label_italic' : '';
    },
    inputLabels: function () {
      return t('mqtt5-in.label.inputLabel');
    },
    outputLabels: function () {
      return t('mqtt5-in.label.outputLabel');
    },
    oneditprepare: function () {
      $('#node-input-inputs').val(Number(this.inputs) === 1 ? '1' : '0');
      function toggle() {
        var dyn = $('#node-input-inputs').val() === '1';
        $('.mqtt5-in-static').toggle(!dyn);
        $('#node-input-topic').trigger('change');
      }
      $('#node-input-inputs').on('change', toggle);
      function preview() {
        var g = $('#node-input-shareGroup').val();
        var topic = $('#node-input-topic').val();
        $('#mqtt5-in-share-preview').text(g ? '$share/' + g + '/' + (topic || '…') : '');
      }
      $('#node-input-shareGroup, #node-input-topic').on('change keyup', preview);
      toggle();
      preview();
    },
    oneditsave: function () {
      this.inputs = $('#node-input-inputs').val() === '1' ? 1 : 0;
    }
  });
})();
