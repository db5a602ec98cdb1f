//! What the `weir` binary carries for `weir plugin new` and `weir plugin build`: the WIT
//! package, the Python and JavaScript SDKs, the JavaScript toolchain's lock file and the
//! templates. Carried rather than looked up, so both commands work from the one binary,
//! anywhere, and always with the SDK of the host that will load the plugin.

use super::plugin_manifest::Stage;

/// `wit/plugin.wit`, the contract.
pub const WIT: &str = include_str!("../../../wit/plugin.wit");

/// The Python SDK: (path under the SDK folder, text).
pub const PYTHON_SDK: &[(&str, &str)] = &[
    (
        "weir_sdk/__init__.py",
        include_str!("../../../guest-sdk/python/weir_sdk/__init__.py"),
    ),
    (
        "weir_sdk/_serde.py",
        include_str!("../../../guest-sdk/python/weir_sdk/_serde.py"),
    ),
    (
        "weir_sdk/abi.py",
        include_str!("../../../guest-sdk/python/weir_sdk/abi.py"),
    ),
    (
        "weir_sdk/app.py",
        include_str!("../../../guest-sdk/python/weir_sdk/app.py"),
    ),
    (
        "weir_sdk/errors.py",
        include_str!("../../../guest-sdk/python/weir_sdk/errors.py"),
    ),
    (
        "weir_sdk/host.py",
        include_str!("../../../guest-sdk/python/weir_sdk/host.py"),
    ),
    (
        "weir_sdk/json.py",
        include_str!("../../../guest-sdk/python/weir_sdk/json.py"),
    ),
    (
        "weir_sdk/record.py",
        include_str!("../../../guest-sdk/python/weir_sdk/record.py"),
    ),
    (
        "weir_sdk/stage.py",
        include_str!("../../../guest-sdk/python/weir_sdk/stage.py"),
    ),
    (
        "weir_sdk/testing.py",
        include_str!("../../../guest-sdk/python/weir_sdk/testing.py"),
    ),
];

/// The module componentize-py starts from (in the SDK; it imports the plugin's `plugin`).
pub const PYTHON_APP: &str = "weir_sdk.app";

/// The JavaScript SDK, its build script included.
pub const JS_SDK: &[(&str, &str)] = &[
    ("build.mjs", include_str!("../../../guest-sdk/js/build.mjs")),
    ("hooks.mjs", include_str!("../../../guest-sdk/js/hooks.mjs")),
    ("json.mjs", include_str!("../../../guest-sdk/js/json.mjs")),
    ("sdk.mjs", include_str!("../../../guest-sdk/js/sdk.mjs")),
    (
        "testing.mjs",
        include_str!("../../../guest-sdk/js/testing.mjs"),
    ),
];

/// The JavaScript SDK's build script, under the SDK folder.
pub const JS_BUILD_SCRIPT: &str = "build.mjs";

/// The pinned jco toolchain: `package.json` and its lock file.
pub const JS_TOOLCHAIN: &[(&str, &str)] = &[
    (
        "package.json",
        include_str!("../../../guest-sdk/js/toolchain/package.json"),
    ),
    (
        "package-lock.json",
        include_str!("../../../guest-sdk/js/toolchain/package-lock.json"),
    ),
];

/// A new Rust plugin's `Cargo.toml` (`{{name}}`, `{{sdk}}`).
pub const RUST_CARGO_TOML: &str = include_str!("templates/rust/Cargo.toml.tmpl");

/// A new Rust plugin's `src/lib.rs`.
pub fn rust_template(stage: Stage) -> &'static str {
    match stage {
        Stage::Filter => include_str!("templates/rust/filter.rs"),
        Stage::Transformer => include_str!("templates/rust/transformer.rs"),
        Stage::Emitter => include_str!("templates/rust/emitter.rs"),
    }
}

/// A new Python plugin's `plugin.py` and `test_plugin.py`.
pub fn python_template(stage: Stage) -> (&'static str, &'static str) {
    match stage {
        Stage::Filter => (
            include_str!("templates/python/filter.py"),
            include_str!("templates/python/test_filter.py"),
        ),
        Stage::Transformer => (
            include_str!("templates/python/transformer.py"),
            include_str!("templates/python/test_transformer.py"),
        ),
        Stage::Emitter => (
            include_str!("templates/python/emitter.py"),
            include_str!("templates/python/test_emitter.py"),
        ),
    }
}

/// A new Python plugin's `conftest.py`: puts `.weir-sdk` on the module path.
pub const PYTHON_CONFTEST: &str = include_str!("templates/python/conftest.py");

/// A new JavaScript plugin's `plugin.js` and `plugin.test.mjs`.
pub fn js_template(stage: Stage) -> (&'static str, &'static str) {
    match stage {
        Stage::Filter => (
            include_str!("templates/js/filter.js"),
            concat!(
                include_str!("templates/js/sdk-import.mjs"),
                "\n",
                include_str!("templates/js/filter.test.mjs")
            ),
        ),
        Stage::Transformer => (
            include_str!("templates/js/transformer.js"),
            concat!(
                include_str!("templates/js/sdk-import.mjs"),
                "\n",
                include_str!("templates/js/transformer.test.mjs")
            ),
        ),
        Stage::Emitter => (
            include_str!("templates/js/emitter.js"),
            concat!(
                include_str!("templates/js/sdk-import.mjs"),
                "\n",
                include_str!("templates/js/emitter.test.mjs")
            ),
        ),
    }
}
