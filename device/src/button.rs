//! The button and LED: what the seed's Pi does, as a state machine plus a small async driver.
//!
//! The seed script published one row per press, kept publishing once a second while the button
//! was held (its loop re-read the pin after `sleep(1)`), ignored bounces for 300 ms, and lit
//! the LED while the button was down. Here the LED means something more useful: a message is
//! on its way and the broker has not acknowledged it yet (PUBACK). The logic is pure
//! ([`ButtonMachine`]: edges and times in, actions out) so it is tested with a simulated pin
//! and clock; [`run`] wires it to pins ([`ButtonPins`]) and a publisher ([`ButtonSink`]).

use std::future::Future;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

/// A pin level. The button pulls the pin up, so pressed is `Low`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinLevel {
    Low,
    High,
}

/// A level change seen on the button pin, stamped with the driver's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    /// The level after the edge: `Low` for a falling edge (press).
    pub level: PinLevel,
    /// Time since the clock's start.
    pub at: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ButtonConfig {
    /// Edges closer than this to the last accepted edge are contact bounce.
    pub debounce: Duration,
    /// While held, publish again this often.
    pub repeat: Duration,
}

impl Default for ButtonConfig {
    fn default() -> Self {
        Self {
            debounce: Duration::from_millis(300),
            repeat: Duration::from_secs(1),
        }
    }
}

/// What the driver must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonAction {
    Publish,
    Led(bool),
}

/// The button's logic without pins or time sources.
#[derive(Debug, Clone)]
pub struct ButtonMachine {
    cfg: ButtonConfig,
    last_edge: Option<Duration>,
    held: bool,
    next_repeat: Option<Duration>,
    published: u64,
    settled: u64,
    led: bool,
}

impl ButtonMachine {
    pub fn new(cfg: ButtonConfig) -> Self {
        Self {
            cfg,
            last_edge: None,
            held: false,
            next_repeat: None,
            published: 0,
            settled: 0,
            led: false,
        }
    }

    /// A level change. Falling edges outside the debounce window publish at once and start
    /// the hold timer; rising edges end the hold.
    pub fn on_edge(&mut self, edge: Edge) -> Vec<ButtonAction> {
        if let Some(last) = self.last_edge {
            if edge.at.saturating_sub(last) < self.cfg.debounce {
                return Vec::new();
            }
        }
        match edge.level {
            PinLevel::Low if !self.held => {
                self.last_edge = Some(edge.at);
                self.held = true;
                self.next_repeat = Some(edge.at + self.cfg.repeat);
                self.publish()
            }
            PinLevel::High if self.held => {
                self.last_edge = Some(edge.at);
                self.held = false;
                self.next_repeat = None;
                Vec::new()
            }
            // A second edge in the same direction means we missed one; nothing to do.
            _ => Vec::new(),
        }
    }

    /// The repeat deadline passed. `level` is the pin read now: a release whose edge was
    /// swallowed by the debounce window is caught here, as the seed's loop did by polling.
    pub fn on_tick(&mut self, now: Duration, level: PinLevel) -> Vec<ButtonAction> {
        match self.next_repeat {
            Some(due) if now >= due && self.held => {
                if level == PinLevel::High {
                    self.held = false;
                    self.next_repeat = None;
                    return Vec::new();
                }
                // Keep the cadence of the first press, skipping beats missed while busy.
                let mut next = due + self.cfg.repeat;
                while next <= now {
                    next += self.cfg.repeat;
                }
                self.next_repeat = Some(next);
                self.publish()
            }
            _ => Vec::new(),
        }
    }

    /// `total` messages are now settled (acknowledged or failed), counting from the start.
    pub fn on_settled(&mut self, total: u64) -> Vec<ButtonAction> {
        self.settled = total.min(self.published);
        self.update_led()
    }

    /// When [`on_tick`](Self::on_tick) wants to be called next.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.next_repeat.filter(|_| self.held)
    }

    pub fn led(&self) -> bool {
        self.led
    }

    pub fn published(&self) -> u64 {
        self.published
    }

    fn publish(&mut self) -> Vec<ButtonAction> {
        self.published += 1;
        let mut actions = vec![ButtonAction::Publish];
        actions.extend(self.update_led());
        actions
    }

    fn update_led(&mut self) -> Vec<ButtonAction> {
        let want = self.settled < self.published;
        if want == self.led {
            Vec::new()
        } else {
            self.led = want;
            vec![ButtonAction::Led(want)]
        }
    }
}

/// The pins the driver needs: read the button, drive the LED.
pub trait ButtonPins {
    fn level(&self) -> PinLevel;
    fn set_led(&mut self, on: bool);
}

/// Where presses go. The real one is [`crate::connection::Connection`]; tests use a fake.
pub trait ButtonSink {
    fn publish(&mut self, payload: Vec<u8>) -> impl Future<Output = Result<(), String>>;
    /// A watch of how many publishes are settled (acknowledged or failed) so far.
    fn settled(&self) -> watch::Receiver<u64>;
}

/// The real sink: publishes to one topic on a [`Connection`](crate::connection::Connection).
pub struct TopicSink<'a> {
    pub publisher: &'a crate::connection::Connection,
    pub topic: String,
    pub qos: crate::connection::Qos,
}

impl ButtonSink for TopicSink<'_> {
    async fn publish(&mut self, payload: Vec<u8>) -> Result<(), String> {
        // While the link is down messages queue up to the in-flight window; past that, a press
        // fails loudly after a while instead of freezing the button loop.
        let limit = std::time::Duration::from_secs(60);
        match tokio::time::timeout(
            limit,
            self.publisher.publish(&self.topic, self.qos, payload),
        )
        .await
        {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => Err(format!(
                "broker {} took no message for {limit:?}",
                self.publisher.endpoint()
            )),
        }
    }
    fn settled(&self) -> watch::Receiver<u64> {
        self.publisher.settled_watch()
    }
}

/// The clock edges are stamped with: time since `start`, on tokio's clock, so tests can pause
/// and advance it.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: tokio::time::Instant,
}

impl Clock {
    pub fn start() -> Self {
        Self {
            start: tokio::time::Instant::now(),
        }
    }
    pub fn now(&self) -> Duration {
        self.start.elapsed()
    }
    fn instant(&self, at: Duration) -> tokio::time::Instant {
        self.start + at
    }
}

/// How a button run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ButtonReport {
    pub published: u64,
    pub settled: u64,
}

/// Runs the button until `count` messages are published and settled (0 = until `stop`
/// resolves or the edge channel closes). `next_payload` builds each message when it is sent.
#[allow(clippy::too_many_arguments)]
pub async fn run<P, S>(
    pins: &mut P,
    mut edges: mpsc::UnboundedReceiver<Edge>,
    sink: &mut S,
    clock: Clock,
    cfg: ButtonConfig,
    count: u64,
    mut next_payload: impl FnMut() -> Vec<u8>,
    stop: impl Future<Output = ()>,
) -> Result<ButtonReport, String>
where
    P: ButtonPins,
    S: ButtonSink,
{
    let mut machine = ButtonMachine::new(cfg);
    let mut settled = sink.settled();
    pins.set_led(false);
    tokio::pin!(stop);
    loop {
        let settled_now = *settled.borrow_and_update();
        let actions = machine.on_settled(settled_now);
        apply(pins, &actions);
        if count > 0 && machine.published() >= count && settled_now >= count {
            break;
        }
        let deadline = machine.next_deadline().map(|d| clock.instant(d));
        let actions = tokio::select! {
            edge = edges.recv() => match edge {
                Some(edge) => machine.on_edge(edge),
                None => break,
            },
            _ = sleep_until_opt(deadline) => machine.on_tick(clock.now(), pins.level()),
            changed = settled.changed() => {
                if changed.is_err() {
                    return Err("the connection closed".into());
                }
                Vec::new()
            }
            () = &mut stop => break,
        };
        for action in actions {
            match action {
                ButtonAction::Led(on) => pins.set_led(on),
                ButtonAction::Publish if count == 0 || machine.published() <= count => {
                    sink.publish(next_payload()).await?;
                }
                ButtonAction::Publish => {}
            }
        }
    }
    pins.set_led(false);
    let settled_total = *settled.borrow();
    Ok(ButtonReport {
        published: machine
            .published()
            .min(if count == 0 { u64::MAX } else { count }),
        settled: settled_total,
    })
}

fn apply<P: ButtonPins>(pins: &mut P, actions: &[ButtonAction]) {
    for a in actions {
        if let ButtonAction::Led(on) = a {
            pins.set_led(*on);
        }
    }
}

async fn sleep_until_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }
    fn edge(level: PinLevel, at: u64) -> Edge {
        Edge { level, at: ms(at) }
    }
    fn publishes(actions: &[ButtonAction]) -> usize {
        actions
            .iter()
            .filter(|a| **a == ButtonAction::Publish)
            .count()
    }

    #[test]
    fn one_press_publishes_once_and_lights_led_until_ack() {
        let mut m = ButtonMachine::new(ButtonConfig::default());
        assert_eq!(
            m.on_edge(edge(PinLevel::Low, 1000)),
            [ButtonAction::Publish, ButtonAction::Led(true)]
        );
        assert!(m.led());
        assert_eq!(m.on_edge(edge(PinLevel::High, 1400)), []);
        assert!(m.led(), "LED stays on until the PUBACK, not until release");
        assert_eq!(m.on_settled(1), [ButtonAction::Led(false)]);
        assert_eq!(m.on_settled(1), []);
    }

    #[test]
    fn bounces_inside_the_window_are_ignored() {
        let mut m = ButtonMachine::new(ButtonConfig::default());
        let mut n = publishes(&m.on_edge(edge(PinLevel::Low, 1000)));
        // contact bounce on press: high/low chatter within 300 ms
        for (i, t) in [1002, 1005, 1009, 1020, 1150, 1299].into_iter().enumerate() {
            let level = if i % 2 == 0 {
                PinLevel::High
            } else {
                PinLevel::Low
            };
            n += publishes(&m.on_edge(edge(level, t)));
        }
        assert_eq!(n, 1);
        // a real release and press later count
        assert_eq!(publishes(&m.on_edge(edge(PinLevel::High, 1500))), 0);
        // bounce on release shows up as a falling edge 5 ms later: ignored
        assert_eq!(publishes(&m.on_edge(edge(PinLevel::Low, 1505))), 0);
        assert_eq!(publishes(&m.on_edge(edge(PinLevel::Low, 1900))), 1);
        assert_eq!(m.published(), 2);
    }

    #[test]
    fn holding_repeats_every_second_until_release() {
        let mut m = ButtonMachine::new(ButtonConfig::default());
        m.on_edge(edge(PinLevel::Low, 0));
        assert_eq!(m.next_deadline(), Some(ms(1000)));
        assert_eq!(publishes(&m.on_tick(ms(999), PinLevel::Low)), 0);
        assert_eq!(publishes(&m.on_tick(ms(1000), PinLevel::Low)), 1);
        assert_eq!(m.next_deadline(), Some(ms(2000)));
        // a late tick keeps the cadence and does not burst
        assert_eq!(publishes(&m.on_tick(ms(3500), PinLevel::Low)), 1);
        assert_eq!(m.next_deadline(), Some(ms(4000)));
        m.on_edge(edge(PinLevel::High, 3700));
        assert_eq!(m.next_deadline(), None);
        assert_eq!(publishes(&m.on_tick(ms(4000), PinLevel::High)), 0);
        assert_eq!(m.published(), 3);
    }

    #[test]
    fn release_hidden_by_debounce_is_caught_by_polling() {
        let mut m = ButtonMachine::new(ButtonConfig::default());
        m.on_edge(edge(PinLevel::Low, 0));
        // a quick tap: the release edge falls inside the debounce window and is dropped
        assert_eq!(m.on_edge(edge(PinLevel::High, 120)), []);
        assert_eq!(publishes(&m.on_tick(ms(1000), PinLevel::High)), 0);
        assert_eq!(m.next_deadline(), None);
        assert_eq!(m.published(), 1);
    }

    #[test]
    fn led_tracks_outstanding_messages() {
        let mut m = ButtonMachine::new(ButtonConfig::default());
        m.on_edge(edge(PinLevel::Low, 0));
        assert_eq!(m.on_tick(ms(1000), PinLevel::Low), [ButtonAction::Publish]);
        assert_eq!(m.on_settled(1), []);
        assert!(m.led());
        assert_eq!(m.on_settled(2), [ButtonAction::Led(false)]);
        // more acks than publishes cannot turn the LED into a negative count
        assert_eq!(m.on_settled(5), []);
        assert_eq!(
            m.on_tick(ms(2000), PinLevel::Low),
            [ButtonAction::Publish, ButtonAction::Led(true)]
        );
        assert_eq!(m.on_settled(3), [ButtonAction::Led(false)]);
    }

    /// A simulated pin: the test sets the level and sends edges; LED changes are recorded.
    #[derive(Clone, Default)]
    struct SimPins {
        low: Arc<Mutex<bool>>,
        led: Arc<Mutex<Vec<bool>>>,
    }
    impl ButtonPins for SimPins {
        fn level(&self) -> PinLevel {
            if *self.low.lock().expect("lock") {
                PinLevel::Low
            } else {
                PinLevel::High
            }
        }
        fn set_led(&mut self, on: bool) {
            self.led.lock().expect("lock").push(on);
        }
    }

    struct FakeSink {
        sent: mpsc::UnboundedSender<Vec<u8>>,
        settled: watch::Receiver<u64>,
    }
    impl ButtonSink for FakeSink {
        async fn publish(&mut self, payload: Vec<u8>) -> Result<(), String> {
            self.sent.send(payload).map_err(|e| e.to_string())
        }
        fn settled(&self) -> watch::Receiver<u64> {
            self.settled.clone()
        }
    }

    /// The driver on a paused tokio clock: a press, a hold over three seconds, acks.
    #[tokio::test(start_paused = true)]
    async fn driver_publishes_on_press_and_hold_with_simulated_clock() {
        let pins = SimPins::default();
        let (edge_tx, edge_rx) = mpsc::unbounded_channel();
        let (sent_tx, mut sent_rx) = mpsc::unbounded_channel();
        let (ack_tx, ack_rx) = watch::channel(0u64);
        let clock = Clock::start();
        let mut driver_pins = pins.clone();
        let driver = tokio::spawn(async move {
            let mut sink = FakeSink {
                sent: sent_tx,
                settled: ack_rx,
            };
            let mut n = 0u32;
            run(
                &mut driver_pins,
                edge_rx,
                &mut sink,
                clock,
                ButtonConfig::default(),
                4,
                move || {
                    n += 1;
                    format!("msg{n}").into_bytes()
                },
                std::future::pending(),
            )
            .await
        });

        *pins.low.lock().expect("lock") = true;
        edge_tx
            .send(Edge {
                level: PinLevel::Low,
                at: clock.now(),
            })
            .expect("driver alive");
        assert_eq!(sent_rx.recv().await.expect("first"), b"msg1");
        let t0 = clock.now();
        // held: the paused clock auto-advances to each repeat deadline
        assert_eq!(sent_rx.recv().await.expect("repeat"), b"msg2");
        assert_eq!(clock.now() - t0, Duration::from_secs(1));
        assert_eq!(sent_rx.recv().await.expect("repeat"), b"msg3");
        assert_eq!(clock.now() - t0, Duration::from_secs(2));
        // release, then one more press after the debounce window
        *pins.low.lock().expect("lock") = false;
        edge_tx
            .send(Edge {
                level: PinLevel::High,
                at: clock.now(),
            })
            .expect("alive");
        tokio::time::advance(ms(400)).await;
        *pins.low.lock().expect("lock") = true;
        edge_tx
            .send(Edge {
                level: PinLevel::Low,
                at: clock.now(),
            })
            .expect("alive");
        assert_eq!(sent_rx.recv().await.expect("press"), b"msg4");
        assert_eq!(*pins.led.lock().expect("lock"), [false, true]);
        ack_tx.send_replace(4);
        let report = driver.await.expect("no panic").expect("ok");
        assert_eq!(
            report,
            ButtonReport {
                published: 4,
                settled: 4
            }
        );
        assert_eq!(*pins.led.lock().expect("lock"), [false, true, false, false]);
    }
}
