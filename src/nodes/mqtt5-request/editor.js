(function () {
  'use strict';

  // messages of this node set (locales/<lang>/mqtt5-request.json)
  function t(key) {
    return RED._('node-red-contrib-mqtt5-hub/mqtt5-request:' + key);
  }

  function noWildcard(v, opt) {
    if (!v || !/[+#]/.test(v)) return true;
    return opt ? t('mqtt5-request.errors.wildcard') : false;
  }
  function timeout(v, opt) {
    var n = Number(v);
    if (v === '' || (isFinite(n) && n > 0 && n <= 86400)) return true;
    return opt ? t('mqtt5-request.errors.timeout') : false;
  }

  RED.nodes.registerType('mqtt5-request', {
    category: 'network',
    color: '#9ec5e8',
    defaults: {
      name: { value: '' },
      client: { type: 'mqtt5-client', required: true },
      topic: { value: '', validate: noWildcard },
      qos: { value: '1' },
      replyTopic: { value: '', validate: noWildcard },
      timeout: { value: 10, validate: timeout },
      datatype: { value: 'auto' },
      userProps: { value: [] },
      contentType: { value: '' },
      contentTypeType: { value: 'str' },
      messageExpiry: { value: '' },
      messageExpiryType: { value: 'num' }
    },
    inputs: 1,
    outputs: 1,
    icon: 'mqtt5-request.svg',
    paletteLabel: 'mqtt5 request',
    label: function () {
      return this.name || (this.topic ? 'request ' + this.topic : 'mqtt5 request');
    },
    labelStyle: function () {
      return this.name ? 'node_label_italic' : '';
    },
    inputLabels: function () {
      return t('mqtt5-request.label.inputLabel');
    },
    outputLabels: function () {
      return t('mqtt5-request.label.outputLabel');
    },
    oneditprepare: function () {
      $('#node-input-contentType').typedInput({ default: 'str', typeField: '#node-input-contentTypeType', types: ['str', 'msg', 'flow', 'global', 'env'] });
      $('#node-input-messageExpiry').typedInput({ default: 'num', typeField: '#node-input-messageExpiryType', types: ['num', 'msg', 'flow', 'global', 'env'] });
      var list = $('#node-input-userProps-list');
      list.css('min-height', '96px').editableList({
        addItem: function (row, index, data) {
          $('<input type="text" class="mqtt5-up-key" style="width:40%; margin-right:4px">')
            .attr('placeholder', t('mqtt5-request.placeholder.key')).val(data.key || '').appendTo(row);
          $('<input type="text" class="mqtt5-up-value" style="width:55%">')
            .attr('placeholder', t('mqtt5-request.placeholder.value')).val(data.value || '').appendTo(row);
        },
        removable: true,
        sortable: true,
        height: 'auto',
        addButton: t('mqtt5-request.label.addProperty')
      });
      (this.userProps || []).forEach(function (i) { list.editableList('addItem', i); });
    },
    oneditsave: function () {
      var out = [];
      $('#node-input-userProps-list').editableList('items').each(function () {
        var key = $(this).find('.mqtt5-up-key').val();
        if (key) out.push({ key: key, value: $(this).find('.mqtt5-up-value').val() });
      });
      this.userProps = out;
    }
  });
})();
