(function () {
  'use strict';

  function isInt(min, max, optional) {
    return function (v) {
      if ((v === '' || v === undefined || v === null) && optional) return true;
      var n = Number(v);
      return Number.isInteger(n) && n >= min && n <= max;
    };
  }

  function portOk(flag) {
    return function (v) {
      var box = $('#node-input-' + flag);
      var enabled = box.length ? box.prop('checked') : this[flag] !== false && (flag === 'tcpEnabled' || !!this[flag]);
      return !enabled || isInt(0, 65535, false)(v);
    };
  }

  /** Comma-separated MQTT topic filters (# only as the last level, + only as a whole level); empty is fine. */
  function filtersOk(v) {
    return String(v || '')
      .split(',')
      .map(function (f) {
        return f.trim();
      })
      .filter(function (f) {
        return f !== '';
      })
      .every(function (f) {
        var levels = f.split('/');
        return levels.every(function (l, i) {
          if (l.indexOf('#') >= 0 && (l !== '#' || i !== levels.length - 1)) return false;
          return l.indexOf('+') < 0 || l === '+';
        });
      });
  }

  RED.nodes.registerType('mqtt5-broker', {
    category: 'network',
    color: '#9ec5e8',
    defaults: {
      name: { value: '' },
      tcpEnabled: { value: true },
      tcpPort: { value: 1883, validate: portOk('tcpEnabled') },
      tcpHost: { value: '' },
      tlsEnabled: { value: false },
      tlsPort: { value: 8883, validate: portOk('tlsEnabled') },
      tlsHost: { value: '' },
      tls: { type: 'tls-config', required: false },
      tlsRequireCert: { value: false },
      wsEnabled: { value: false },
      wsMode: { value: 'port' },
      wsPort: { value: 8080, validate: portOk('wsEnabled') },
      wsHost: { value: '' },
      wsPath: { value: '/mqtt' },
      wsTls: { value: false },
      allowAnonymous: { value: true },
      acl: { value: [] },
      maxConnections: { value: 10000, validate: isInt(1, 10000000, true) },
      maxPacketSize: { value: 1048576, validate: isInt(64, 268435455, true) },
      maxInflight: { value: 100, validate: isInt(1, 65535, true) },
      maxQueued: { value: 1000, validate: isInt(1, 10000000, true) },
      maxSessionExpiry: { value: '', validate: isInt(0, 4294967295, true) },
      persistence: { value: 'memory' },
      flush: { value: 'always' },
      flushInterval: { value: 1000, validate: isInt(10, 3600000, true) },
      sysInterval: { value: 10, validate: isInt(0, 86400, true) },
      copyTopic: { value: '', validate: filtersOk },
      copyPayload: { value: 'auto' },
    },
    credentials: {
      users: { type: 'text' },
    },
    inputs: 1,
    outputs: 2,
    icon: 'mqtt5-broker.svg',
    outputLabels: function (i) {
      return this._(i === 0 ? 'mqtt5-broker.outputs.events' : 'mqtt5-broker.outputs.copy');
    },
    inputLabels: function () {
      return this._('mqtt5-broker.inputs.publish');
    },
    label: function () {
      if (this.name) return this.name;
      var parts = [];
      if (this.tcpEnabled !== false) parts.push(':' + (this.tcpPort || 1883));
      if (this.tlsEnabled) parts.push('tls:' + (this.tlsPort || 8883));
      if (this.wsEnabled) parts.push(this.wsMode === 'path' ? 'ws:' + (this.wsPath || '/mqtt') : (this.wsTls ? 'wss:' : 'ws:') + (this.wsPort || 8080) + (this.wsPath || '/mqtt'));
      return 'mqtt5 broker ' + parts.join(' ');
    },
    labelStyle: function () {
      return this.name ? 'node_label_italic' : '';
    },
    paletteLabel: 'mqtt5 broker',
    oneditprepare: function () {
      // eslint-disable-next-line @typescript-eslint/no-this-alias
      var node = this;
      var tabs = RED.tabs.create({
        id: 'mqtt5-broker-tabs',
        onchange: function (tab) {
          $('#mqtt5-broker-tabs-content').children().hide();
          $('#' + tab.id).show();
        },
      });
      ['listeners', 'security', 'limits', 'storage', 'outputs'].forEach(function (t) {
        tabs.addTab({ id: 'mqtt5-broker-tab-' + t, label: node._('mqtt5-broker.tabs.' + t) });
      });

      function toggle() {
        $('.mqtt5b-tcp').toggle($('#node-input-tcpEnabled').prop('checked'));
        $('.mqtt5b-tls').toggle($('#node-input-tlsEnabled').prop('checked'));
        var ws = $('#node-input-wsEnabled').prop('checked');
        var path = $('#node-input-wsMode').val() === 'path';
        $('.mqtt5b-ws').toggle(ws);
        $('.mqtt5b-ws-port').toggle(ws && !path);
        $('.mqtt5b-ws-path').toggle(ws);
        $('.mqtt5b-ws-tip').toggle(ws && path);
        var wss = ws && !path && $('#node-input-wsTls').prop('checked');
        $('.mqtt5b-tls-config').toggle($('#node-input-tlsEnabled').prop('checked') || wss);
        var file = $('#node-input-persistence').val() === 'file';
        $('.mqtt5b-file').toggle(file);
        $('.mqtt5b-flush-interval').toggle(file && $('#node-input-flush').val() === 'interval');
      }
      $('#node-input-tcpEnabled, #node-input-tlsEnabled, #node-input-wsEnabled, #node-input-wsMode, #node-input-wsTls, #node-input-persistence, #node-input-flush').on('change', toggle);
      if (this.tcpEnabled === undefined) $('#node-input-tcpEnabled').prop('checked', true);
      if (!this.wsMode) $('#node-input-wsMode').val('port');
      if (!this.persistence) $('#node-input-persistence').val('memory');
      if (!this.flush) $('#node-input-flush').val('always');
      if (!this.copyPayload) $('#node-input-copyPayload').val('auto');
      toggle();

      // users: kept in the credentials (never in the flow file) as a JSON list
      var users;
      try {
        var raw = $('#node-input-users').val() || (node.credentials && node.credentials.users) || '';
        users = raw ? JSON.parse(raw) : [];
      } catch (e) {
        users = [];
      }
      if (!Array.isArray(users)) users = [];
      $('#node-input-users-container')
        .css('min-height', '120px')
        .css('min-width', '450px')
        .editableList({
          addItem: function (container, i, u) {
            container.css({ overflow: 'hidden', whiteSpace: 'nowrap' });
            var row = $('<div/>').appendTo(container);
            $('<input/>', { type: 'text', class: 'mqtt5b-user-name', placeholder: node._('mqtt5-broker.label.username') })
              .css('width', '45%')
              .val(u.username || '')
              .appendTo(row);
            // (autocomplete as an attribute: in $('<input/>', {...}) jQuery would call the jQuery UI plugin)
            $('<input/>', { type: 'password', class: 'mqtt5b-user-password', placeholder: node._('mqtt5-broker.label.password') })
              .attr('autocomplete', 'new-password')
              .css({ width: '45%', marginLeft: '10px' })
              .val(u.password || '')
              .data('hash', u.passwordHash || '')
              .appendTo(row);
          },
          removable: true,
          sortable: true,
        });
      users.forEach(function (u) {
        $('#node-input-users-container').editableList('addItem', u);
      });

      // ACL rules
      var accessOptions = ['readwrite', 'read', 'write', 'deny'];
      $('#node-input-acl-container')
        .css('min-height', '150px')
        .css('min-width', '450px')
        .editableList({
          addItem: function (container, i, r) {
            container.css({ overflow: 'hidden', whiteSpace: 'nowrap' });
            var row = $('<div/>').appendTo(container);
            $('<input/>', { type: 'text', class: 'mqtt5b-acl-user', placeholder: node._('mqtt5-broker.placeholder.everyone') })
              .css('width', '25%')
              .val(r.user && r.user !== '*' ? r.user : '')
              .appendTo(row);
            $('<input/>', { type: 'text', class: 'mqtt5b-acl-topic', placeholder: 'sensors/%u/#' })
              .css({ width: '40%', marginLeft: '10px' })
              .val(r.topic || '')
              .appendTo(row);
            var sel = $('<select/>', { class: 'mqtt5b-acl-access' }).css({ width: '25%', marginLeft: '10px' }).appendTo(row);
            accessOptions.forEach(function (a) {
              $('<option/>').val(a).text(node._('mqtt5-broker.access.' + a)).appendTo(sel);
            });
            sel.val(r.access === 'both' ? 'readwrite' : r.access || 'readwrite');
          },
          removable: true,
          sortable: true,
        });
      (this.acl || []).forEach(function (r) {
        $('#node-input-acl-container').editableList('addItem', r);
      });
    },
    oneditsave: function () {
      var users = [];
      $('#node-input-users-container')
        .editableList('items')
        .each(function () {
          var name = $(this).find('.mqtt5b-user-name').val().trim();
          var pwInput = $(this).find('.mqtt5b-user-password');
          var pw = pwInput.val();
          if (!name) return;
          var u = { username: name };
          if (pw) u.password = pw;
          else if (pwInput.data('hash')) u.passwordHash = pwInput.data('hash');
          users.push(u);
        });
      $('#node-input-users').val(users.length ? JSON.stringify(users) : '');
      var acl = [];
      $('#node-input-acl-container')
        .editableList('items')
        .each(function () {
          var topic = $(this).find('.mqtt5b-acl-topic').val().trim();
          if (!topic) return;
          acl.push({
            user: $(this).find('.mqtt5b-acl-user').val().trim() || '*',
            topic: topic,
            access: $(this).find('.mqtt5b-acl-access').val(),
          });
        });
      this.acl = acl;
    },
    oneditresize: function (size) {
      var rows = $('#dialog-form>div:not(.mqtt5b-tabs-row):not(#mqtt5-broker-tabs-content)');
      var height = size.height;
      for (var i = 0; i < rows.length; i++) height -= $(rows[i]).outerHeight(true);
      $('#node-input-acl-container').editableList('height', Math.max(150, height - 330));
    },
  });
})();
