//! Raspberry Pi pins through rppal, behind [`ButtonPins`].
//!
//! rppal compiles on any Linux target but only works where the Pi's GPIO character device
//! exists, so opening the pins is the one place that can fail for "not a Pi"; the message says
//! so and points at `replay`, which needs no GPIO. Building without the `gpio` feature keeps
//! the same API and always returns that error.
//!
//! Debouncing is done by [`crate::button::ButtonMachine`], not by rppal, so that the behaviour
//! on the Pi is the behaviour the unit tests check.

use tokio::sync::mpsc;

use crate::button::{ButtonPins, Clock, Edge, PinLevel};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GpioError {
    #[error("no usable GPIO ({reason}); button mode needs a Raspberry Pi (use `weir-device replay` elsewhere)")]
    Unavailable { reason: String },
    #[error("cannot set up GPIO pin BCM {pin}: {reason}")]
    Pin { pin: u8, reason: String },
}

#[cfg(feature = "gpio")]
pub use pi::PiPins;

#[cfg(feature = "gpio")]
mod pi {
    use super::*;
    use rppal::gpio::{Gpio, InputPin, OutputPin, Trigger};

    /// The button input (pull-up, so pressed reads low) and the LED output.
    pub struct PiPins {
        button: InputPin,
        led: OutputPin,
    }

    impl PiPins {
        /// Opens both pins and starts edge detection; edges arrive on the returned channel,
        /// stamped with `clock` when rppal's interrupt thread sees them.
        pub fn open(
            button_pin: u8,
            led_pin: u8,
            clock: Clock,
        ) -> Result<(Self, mpsc::UnboundedReceiver<Edge>), GpioError> {
            let gpio = Gpio::new().map_err(|e| GpioError::Unavailable {
                reason: e.to_string(),
            })?;
            let pin_err = |pin: u8| {
                move |e: rppal::gpio::Error| GpioError::Pin {
                    pin,
                    reason: e.to_string(),
                }
            };
            let mut button = gpio
                .get(button_pin)
                .map_err(pin_err(button_pin))?
                .into_input_pullup();
            let led = gpio
                .get(led_pin)
                .map_err(pin_err(led_pin))?
                .into_output_low();
            let (tx, rx) = mpsc::unbounded_channel();
            button
                .set_async_interrupt(Trigger::Both, None, move |event| {
                    let level = match event.trigger {
                        Trigger::FallingEdge => PinLevel::Low,
                        _ => PinLevel::High,
                    };
                    // The receiver is gone only when the run is over.
                    let _ = tx.send(Edge {
                        level,
                        at: clock.now(),
                    });
                })
                .map_err(pin_err(button_pin))?;
            Ok((Self { button, led }, rx))
        }
    }

    impl ButtonPins for PiPins {
        fn level(&self) -> PinLevel {
            if self.button.is_low() {
                PinLevel::Low
            } else {
                PinLevel::High
            }
        }

        fn set_led(&mut self, on: bool) {
            if on {
                self.led.set_high();
            } else {
                self.led.set_low();
            }
        }
    }
}

/// Stand-in when built without the `gpio` feature.
#[cfg(not(feature = "gpio"))]
pub struct PiPins;

#[cfg(not(feature = "gpio"))]
impl PiPins {
    pub fn open(
        _button_pin: u8,
        _led_pin: u8,
        _clock: Clock,
    ) -> Result<(Self, mpsc::UnboundedReceiver<Edge>), GpioError> {
        Err(GpioError::Unavailable {
            reason: "this binary was built without the `gpio` feature".into(),
        })
    }
}

#[cfg(not(feature = "gpio"))]
impl ButtonPins for PiPins {
    fn level(&self) -> PinLevel {
        PinLevel::High
    }
    fn set_led(&mut self, _on: bool) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On a machine without a Pi GPIO device, opening fails with a message, not a panic.
    #[tokio::test]
    async fn opening_without_gpio_is_a_clear_error() {
        if std::path::Path::new("/dev/gpiomem").exists()
            || std::path::Path::new("/dev/gpiochip0").exists()
        {
            return; // a real Pi (or a GPIO chip): nothing to check here
        }
        let err = PiPins::open(17, 4, Clock::start())
            .err()
            .expect("no GPIO here");
        assert!(
            err.to_string().contains("button mode needs a Raspberry Pi"),
            "{err}"
        );
    }
}
