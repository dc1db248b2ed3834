RED.nodes.registerType('mqtt5-client', { category: 'config', defaults: {} });
