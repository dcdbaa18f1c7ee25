const {encode, decode} = require('/tmp/gpt3enc/package/Encoder.js');
const strings = JSON.parse(require('fs').readFileSync('strings.json','utf8'));
const out = strings.map(s => { const ids = encode(s); if (decode(ids) !== s) throw new Error('roundtrip ' + s); return {text: s, ids}; });
console.log(JSON.stringify(out));
