(function () {
  'use strict';

  // messages of this node set (locales/<lang>/mqtt5-client.json)
  function t(key) {
    return RED._('node-red-contrib-mqtt5-hub/mqtt5-client:' + key);
  }

  function intIn(min, max) {
    return function (v, opt) {
      if (v === '' || v === undefined || v === null) return true; // empty = default
      var n = Number(v);
      if (Number.isInteger(n) && n >= min && n <= max) return true;
      return opt ? t('mqtt5-client.errors.range').replace('{min}', min).replace('{max}', max) : false;
    };
  }
  function publishTopic(v, opt) {
    if (!v || !/[+#]/.test(v)) return true;
    return opt ? t('mqtt5-client.errors.wildcard') : false;
  }
  function brokerUrl(v, opt) {
    var ext = $('#node-config-input-brokerType').length ? $('#node-config-input-brokerType').val() !== 'embedded' : this.brokerType !== 'embedded';
    if (!ext || /^(mqtts?|wss?|tcp|ssl):\/\/[^\s/]+/i.test(String(v || '').trim())) return true;
    return opt ? t('mqtt5-client.errors.url') : false;
  }
  function embeddedBroker(v, opt) {
    var emb = $('#node-config-input-brokerType').length ? $('#node-config-input-brokerType').val() === 'embedded' : this.brokerType === 'embedded';
    if (!emb || !!v) return true;
    return opt ? t('mqtt5-client.errors.noBroker') : false;
  }

  var MESSAGE_KINDS = ['birth', 'close', 'will'];

  var defaults = {
    name: { value: '' },
    brokerType: { value: 'external' },
    broker: { value: 'mqtt://localhost:1883', validate: brokerUrl },
    embeddedBroker: { value: '', validate: embeddedBroker },
    usetls: { value: false },
    tls: { type: 'tls-config', required: false },
    protocolVersion: { value: '5' },
    clientId: { value: '', validate: function (v) { return !v || v.length <= 65535; } },
    cleanStart: { value: true },
    sessionExpiry: { value: 0, validate: intIn(0, 4294967295) },
    keepAlive: { value: 60, validate: intIn(0, 65535) },
    connectProps: { value: [] },
    topicAliases: { value: true },
    reconnectPeriod: { value: 1000, validate: intIn(50, 3600000) },
    reconnectMax: { value: 30000, validate: intIn(50, 3600000) },
    connectTimeout: { value: 30, validate: intIn(1, 3600) },
    queueSize: { value: 1000, validate: intIn(0, 1000000) },
    willDelay: { value: 0, validate: intIn(0, 4294967295) }
  };
  MESSAGE_KINDS.forEach(function (k) {
    defaults[k + 'Topic'] = { value: '', validate: publishTopic };
    defaults[k + 'Payload'] = { value: '' };
    defaults[k + 'Qos'] = { value: '0' };
    defaults[k + 'Retain'] = { value: false };
    defaults[k + 'ContentType'] = { value: '' };
    defaults[k + 'Expiry'] = { value: '', validate: intIn(0, 4294967295) };
    defaults[k + 'UserProps'] = { value: [] };
  });

  function userPropList(id, items) {
    var list = $('#' + id);
    list.css('min-height', '96px').editableList({
      addItem: function (row, index, data) {
        var key = $('<input type="text" class="mqtt5-up-key" style="width:40%; margin-right:4px">')
          .attr('placeholder', t('mqtt5-client.placeholder.key')).appendTo(row);
        var value = $('<input type="text" class="mqtt5-up-value" style="width:55%">')
          .attr('placeholder', t('mqtt5-client.placeholder.value')).appendTo(row);
        key.val(data.key || '');
        value.val(data.value || '');
      },
      removable: true,
      sortable: true,
      height: 'auto',
      addButton: t('mqtt5-client.label.addProperty')
    });
    (items || []).forEach(function (i) { list.editableList('addItem', i); });
  }
  function readUserProps(id) {
    var out = [];
    $('#' + id).editableList('items').each(function () {
      var key = $(this).find('.mqtt5-up-key').val();
      if (key) out.push({ key: key, value: $(this).find('.mqtt5-up-value').val() });
    });
    return out;
  }

  RED.nodes.registerType('mqtt5-client', {
    category: 'config',
    color: '#9ec5e8',
    defaults: defaults,
    credentials: {
      user: { type: 'text' },
      password: { type: 'password' }
    },
    label: function () {
      if (this.name) return this.name;
      if (this.brokerType === 'embedded') {
        var b = this.embeddedBroker && RED.nodes.node(this.embeddedBroker);
        return t('mqtt5-client.label.embedded') + (b ? ': ' + (b.name || b.id) : '');
      }
      return (this.clientId ? this.clientId + '@' : '') + (this.broker || 'mqtt5');
    },
    oneditprepare: function () {
      var node = this; // eslint-disable-line @typescript-eslint/no-this-alias
      var tabs = RED.tabs.create({
        id: 'node-config-mqtt5-client-tabs',
        onchange: function (tab) {
          $('#node-config-mqtt5-client-tabs-content').children().hide();
          $('#' + tab.id).show();
        }
      });
      tabs.addTab({ id: 'mqtt5-client-tab-connection', label: t('mqtt5-client.tabs.connection') });
      tabs.addTab({ id: 'mqtt5-client-tab-session', label: t('mqtt5-client.tabs.session') });
      tabs.addTab({ id: 'mqtt5-client-tab-messages', label: t('mqtt5-client.tabs.messages') });

      // embedded brokers: every mqtt5-broker node of this Node-RED
      var sel = $('#node-config-input-embeddedBroker');
      sel.empty();
      sel.append($('<option value="">').text(t('mqtt5-client.label.pickBroker')));
      RED.nodes.eachNode(function (n) {
        if (n.type === 'mqtt5-broker') {
          sel.append($('<option>').val(n.id).text(n.name || n.id));
        }
      });
      sel.val(node.embeddedBroker || '');

      function toggle() {
        var emb = $('#node-config-input-brokerType').val() === 'embedded';
        $('.mqtt5-external-row').toggle(!emb);
        $('.mqtt5-embedded-row').toggle(emb);
        $('.mqtt5-tls-row').toggle(!emb && $('#node-config-input-usetls').is(':checked'));
        var v5 = emb || $('#node-config-input-protocolVersion').val() === '5';
        $('.mqtt5-v5-row').toggle(v5);
      }
      $('#node-config-input-brokerType, #node-config-input-protocolVersion').on('change', toggle);
      $('#node-config-input-usetls').on('change', toggle);
      $('#node-config-input-broker').on('change keyup', function () {
        if (/^(mqtts|wss|ssl):/i.test($(this).val()) && !$('#node-config-input-usetls').is(':checked')) {
          $('#node-config-input-usetls').prop('checked', true).trigger('change');
        }
      });

      userPropList('node-config-input-connectProps-list', node.connectProps);
      MESSAGE_KINDS.forEach(function (k) { userPropList('node-config-input-' + k + 'UserProps-list', node[k + 'UserProps']); });
      toggle();
    },
    oneditsave: function () {
      this.connectProps = readUserProps('node-config-input-connectProps-list');
      MESSAGE_KINDS.forEach(function (k) { this[k + 'UserProps'] = readUserProps('node-config-input-' + k + 'UserProps-list'); }, this);
      if (!$('#node-config-input-usetls').is(':checked')) $('#node-config-input-tls').val('_ADD_');
    }
  });
})();
