RED.nodes.registerType('mqtt5-in', { category: 'config', defaults: {} });
