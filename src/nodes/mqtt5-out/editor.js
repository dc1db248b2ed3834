RED.nodes.registerType('mqtt5-out', { category: 'config', defaults: {} });
