RED.nodes.registerType('mqtt5-request', { category: 'config', defaults: {} });
