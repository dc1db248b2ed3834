(function () {
  'use strict';

  // messages of this node set (locales/<lang>/mqtt5-out.json)
  function t(key) {
    return RED._('node-red-contrib-mqtt5-hub/mqtt5-out:' + key);
  }

  function noWildcard(v, opt) {
    if (!v || !/[+#]/.test(v)) return true;
    return opt ? t('mqtt5-out.errors.wildcard') : false;
  }
  function typedNoWildcard(typeField) {
    return function (v, opt) {
      var ty = $('#node-input-' + typeField).length ? $('#node-input-' + typeField).val() : this[typeField];
      if (ty && ty !== 'str') return true;
      return noWildcard(v, opt);
    };
  }
  function expiry(v, opt) {
    var ty = $('#node-input-messageExpiryType').length ? $('#node-input-messageExpiryType').val() : this.messageExpiryType;
    if (!v || (ty && ty !== 'num')) return true;
    var n = Number(v);
    if (Number.isInteger(n) && n >= 0 && n <= 4294967295) return true;
    return opt ? t('mqtt5-out.errors.expiry') : false;
  }

  function userPropList(items) {
    var list = $('#node-input-userProps-list');
    list.css('min-height', '96px').editableList({
      addItem: function (row, index, data) {
        $('<input type="text" class="mqtt5-up-key" style="width:40%; margin-right:4px">')
          .attr('placeholder', t('mqtt5-out.placeholder.key')).val(data.key || '').appendTo(row);
        $('<input type="text" class="mqtt5-up-value" style="width:55%">')
          .attr('placeholder', t('mqtt5-out.placeholder.value')).val(data.value || '').appendTo(row);
      },
      removable: true,
      sortable: true,
      height: 'auto',
      addButton: t('mqtt5-out.label.addProperty')
    });
    (items || []).forEach(function (i) { list.editableList('addItem', i); });
  }

  RED.nodes.registerType('mqtt5-out', {
    category: 'network',
    color: '#9ec5e8',
    defaults: {
      name: { value: '' },
      client: { type: 'mqtt5-client', required: true },
      topic: { value: '', validate: noWildcard },
      qos: { value: '' },
      retain: { value: '' },
      userProps: { value: [] },
      contentType: { value: '' },
      contentTypeType: { value: 'str' },
      responseTopic: { value: '', validate: typedNoWildcard('responseTopicType') },
      responseTopicType: { value: 'str' },
      correlationData: { value: '' },
      correlationDataType: { value: 'str' },
      messageExpiry: { value: '', validate: expiry },
      messageExpiryType: { value: 'num' },
      payloadFormat: { value: '' },
      replyMode: { value: false }
    },
    inputs: 1,
    outputs: 0,
    align: 'right',
    icon: 'mqtt5-out.svg',
    paletteLabel: 'mqtt5 out',
    label: function () {
      return this.name || this.topic || 'mqtt5 out';
    },
    labelStyle: function () {
      return this.name ? 'node_label_italic' : '';
    },
    inputLabels: function () {
      return t('mqtt5-out.label.inputLabel');
    },
    oneditprepare: function () {
      var types = ['str', 'msg', 'flow', 'global', 'env'];
      $('#node-input-contentType').typedInput({ default: 'str', typeField: '#node-input-contentTypeType', types: types });
      $('#node-input-responseTopic').typedInput({ default: 'str', typeField: '#node-input-responseTopicType', types: types });
      $('#node-input-correlationData').typedInput({ default: 'str', typeField: '#node-input-correlationDataType', types: types });
      $('#node-input-messageExpiry').typedInput({ default: 'num', typeField: '#node-input-messageExpiryType', types: ['num', 'msg', 'flow', 'global', 'env'] });
      userPropList(this.userProps);
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
