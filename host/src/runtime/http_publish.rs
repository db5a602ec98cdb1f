//! The broker side of the IoT data plane's `Publish` (and of the MQTT answers to REST shadow
//! updates): `weir_api::MqttPublish` over the host's [`Publisher`], the same one `republish`
//! actions use.
//!
//! A message published this way is a broker message like any other: the embedded broker
//! forwards it to its subscribers and to the ingress link that holds every topic, so the
//! rules see it as they see a device's publish (with an external broker, the broker delivers
//! it back through Weir's shared subscriptions). Nothing is injected into the dispatcher
//! beside the broker, so no message reaches the rules twice.
//!
//! The publisher takes a topic, a payload and a QoS. RETAIN and MQTT 5 properties cannot be
//! carried through it (the embedded broker's in-process link publishes without either), so a
//! request asking for them is refused with `InvalidRequestException` rather than delivered
//! without what it asked for.

use std::sync::Arc;

use weir_api::{HttpPublish, MqttPublish, PublishRefused};

use super::resources::Publisher;

/// [`MqttPublish`] through the host's broker publisher.
pub(crate) struct BrokerPublish {
    publisher: Arc<dyn Publisher>,
}

impl BrokerPublish {
    pub(crate) fn shared(publisher: Arc<dyn Publisher>) -> Arc<dyn MqttPublish> {
        Arc::new(BrokerPublish { publisher })
    }
}

impl MqttPublish for BrokerPublish {
    fn publish(&self, message: &HttpPublish) -> Result<(), PublishRefused> {
        if message.retain {
            return Err(PublishRefused::Unsupported(
                "Weir's broker publisher cannot set RETAIN on an HTTP publish; publish with retain=false".into(),
            ));
        }
        if !message.properties.is_empty() {
            return Err(PublishRefused::Unsupported(
                "Weir's broker publisher cannot carry MQTT 5 properties (user properties, payload format, content type, response topic, correlation data, message expiry) on an HTTP publish".into(),
            ));
        }
        self.publisher
            .publish(&message.topic, message.payload.clone(), message.qos)
            .map_err(|e| PublishRefused::Failed(weir_support::error_chain(&e)))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use bytes::Bytes;

    use super::*;
    use crate::runtime::ingress::PublishError;

    #[derive(Default)]
    struct Sent(Mutex<Vec<(String, Bytes, u8)>>);

    impl Publisher for Sent {
        fn publish(&self, topic: &str, payload: Bytes, qos: u8) -> Result<(), PublishError> {
            self.0
                .lock()
                .expect("lock")
                .push((topic.to_owned(), payload, qos));
            Ok(())
        }
    }

    fn message() -> HttpPublish {
        HttpPublish {
            topic: "cars/1".into(),
            payload: Bytes::from_static(b"{}"),
            qos: 1,
            retain: false,
            properties: Default::default(),
        }
    }

    #[test]
    fn a_plain_message_goes_to_the_publisher_and_what_it_cannot_carry_is_refused() {
        let sent = Arc::new(Sent::default());
        let broker = BrokerPublish::shared(sent.clone());
        broker.publish(&message()).expect("published");
        assert_eq!(
            sent.0.lock().expect("lock").as_slice(),
            [("cars/1".to_owned(), Bytes::from_static(b"{}"), 1)]
        );
        let retained = HttpPublish {
            retain: true,
            ..message()
        };
        assert!(matches!(
            broker.publish(&retained),
            Err(PublishRefused::Unsupported(_))
        ));
        let mut with_props = message();
        with_props.properties.content_type = Some("text/plain".into());
        assert!(matches!(
            broker.publish(&with_props),
            Err(PublishRefused::Unsupported(_))
        ));
        assert_eq!(sent.0.lock().expect("lock").len(), 1);
    }
}
