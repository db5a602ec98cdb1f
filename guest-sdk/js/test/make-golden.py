#!/usr/bin/env python3
"""Regenerates serde-golden.json: serde_json's answers, from the Rust SDK's components.

    python3 make-golden.py [WEIR_BINARY] [RUST_PLUGINS_DIR]

(defaults: target/release/weir and target/plugins of this repository). `object` cases go
through owner-enrich with columns=* and a table holding only the key, so the output is the
payload as serde_json writes it back (or the error); `fields` cases go through speed-limit
(limit 75): json_fields, then number_field.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, '..', '..', '..'))
WEIR = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, 'target', 'release', 'weir')
PLUGINS = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, 'target', 'plugins')

OBJECT_BODIES = [
    '"a":82.0,"b":1e16,"c":[1.5e-7,0.00001,1e-6],"2":1,"1":2',
    '"n":[0.000001,1e-7,100000000000000000000,1e21,123456789012345680000,0.1,1.5,-2.5e-8,9007199254740993,-9007199254740993]',
    '"n":{"0":1,"10":2,"9":3,"a":4,"-1":5,"01":6}',
    '"a":-0,"b":[-0,0,-0.0],"c":0.0,"d":1E2,"e":1.0e0,"f":10e-1,"g":76.000,"h":5e-324,"i":2.2250738585072014e-308',
    '"u":18446744073709551615,"v":18446744073709551616,"w":-9223372036854775808,"x":-9223372036854775809,"y":12345678901234567890123,"z":0.1234567890123456789',
    '"p":123456789012345678,"q":75.00000000000001,"r":75.0000000000000001,"s":1.7976931348623157e308,"t":2.5e-5,"o":1e15,"m":9007199254740992.0',
    '"s":"caf\u00e9 \u2022 \U0001F600","e":"\\u00e9\\u2022\\ud83d\\ude00","c":"\\u0000\\u001f\\u007f \\"q\\" \\\\ \\/ \\b\\f\\n\\r\\t"',
    '"b":1,"b":2,"a":{"z":1,"y":[true,false,null]},"b":3',
    '"__proto__":{"x":1},"constructor":2,"toString":"t"',
    '"deep":' + '[' * 126 + ']' * 126,
    '"deep":' + '[' * 127 + ']' * 127,
    '"big":1e400', '"neg":-1e400', '"tiny":1e-400', '"lone":"\\ud800"', '"lone2":"\\udc00x"', '"pair":"\\ud800\\udc00"',
    '"bad":"\\ud800\\u0041"', '"ctl":"a\tb"', '"esc":"\\x"', '"hex":"\\u12"', '"num":01', '"num":1.', '"num":.5', '"num":-',
    '"num":1e', '"num":1e+', '"num":+1', '"num":0x10', '"t":tru', '"n":nul', '"f":fals', '"arr":[1,]', '"arr":[1 2]',
    '"obj":{"a":1,}', '"obj":{"a" 1}', '"obj":{a:1}',
]
OBJECT_WHOLE = [
    'x', '{', '{"licensePlate":"K"', '{"licensePlate":"K"} x', '{"licensePlate":"K"},', '[]', '[{"licensePlate":"K"}]', '1',
    '"s"', 'null', 'true', '\ufeff{"licensePlate":"K"}', '{"licensePlate":"K"}  \t', '\t{"licensePlate":"K"}',
    '{"licensePlate":"K",}', '{,"licensePlate":"K"}', '{"licensePlate":"K",,"a":1}', '[' * 128 + ']' * 128,
    '{"a":' * 127 + '1' + '}' * 127, '{"a":' * 128 + '1' + '}' * 128,
]
FIELD_BODIES = [
    '"speed":82', '"speed":"82"', '"speed":82.0', '"speed":1e2', '"speed":1e999', '"x":1e999,"speed":80', '"x":"\\ud800","speed":90',
    '"speed":"\\ud800"', '"x":' + '[' * 200 + ']' * 200 + ',"speed":90', '"speed":' + '[' * 127 + ']' * 127,
    '"speed":' + '[' * 126 + ']' * 126, '"x":[1,],"speed":90', '"x":{"a":1,},"speed":90', '"x":tru,"speed":90', '"x":01,"speed":90',
    '"x":1.,"speed":90', '"x":"\\q","speed":90', '"x":"\\u12zz","speed":90', '"x":"a\tb","speed":90', '"speed":1,"speed":"99"',
    '"sp\\u0065ed":95', '"speed":90,"speed":null', '"speed":18446744073709551616', '"speed":-0',
]
FIELD_WHOLE = ['[1,2]', '[1e999]', '["\\ud800"]', '[' * 300 + ']' * 300, '1e999', '"\\ud800"', '80', 'null', '[1,]', '{"speed":80} 1']


def run(lines, args):
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'in.txt')
        with open(path, 'w', encoding='utf-8') as f:
            f.write('\n'.join(lines) + '\n')
        keys = os.path.join(d, 'keys.csv')
        with open(keys, 'w') as f:
            f.write('licensePlate\nK\n')
        args = [a.replace('KEYS', keys) for a in args]
        out = subprocess.run([WEIR, 'plugin', 'test', '--raw', '--input', path] + args, check=True, capture_output=True, text=True).stdout
    answers = []
    for line in out.splitlines():
        if line.startswith('#'):
            continue
        n, rest = line.split('\t', 1)
        answers.append([lines[int(n) - 1], rest])
    return answers


golden = {
    'about': "serde_json's answers, taken from the Rust SDK's components (weir plugin test --raw): `object` through owner-enrich "
             '(columns=*, a table holding only the key, so the output is the payload as serde_json writes it back, or the error), '
             '`fields` through speed-limit (limit 75: json_fields then number_field). Regenerate with make-golden.py.',
    'object': run(['{"licensePlate":"K",' + b + '}' for b in OBJECT_BODIES] + OBJECT_WHOLE,
                  [os.path.join(PLUGINS, 'owner-enrich.wasm'), '--table', 'drivers=KEYS:licensePlate', '--config', 'columns=*']),
    'fields': run(['{' + b + '}' for b in FIELD_BODIES] + FIELD_WHOLE,
                  [os.path.join(PLUGINS, 'speed-limit.wasm'), '--config', 'limit=75']),
}
with open(os.path.join(HERE, 'serde-golden.json'), 'w', encoding='utf-8') as f:
    json.dump(golden, f, ensure_ascii=False, indent=1)
print(f"{len(golden['object'])} object cases, {len(golden['fields'])} field cases")
