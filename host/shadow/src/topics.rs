//! The shadow topics of "Device Shadow MQTT topics"
//! (<https://docs.aws.amazon.com/iot/latest/developerguide/device-shadow-mqtt.html>), as plain
//! strings: which publishes are requests, and where their answers go. The broker owns the
//! MQTT side; this only says what AWS's topic names mean.
//!
//! `ShadowTopicPrefix` is `$aws/things/THING/shadow` for the classic shadow and
//! `$aws/things/THING/shadow/name/SHADOW` for a named one; a request is the prefix followed by
//! `/get`, `/update` or `/delete`, its answers by `/get/accepted`, `/update/rejected`,
//! `/update/delta`, `/update/documents` and so on.

/// A request's operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShadowOp {
    Get,
    Update,
    Delete,
}

impl ShadowOp {
    pub fn as_str(self) -> &'static str {
        match self {
            ShadowOp::Get => "get",
            ShadowOp::Update => "update",
            ShadowOp::Delete => "delete",
        }
    }

    fn parse(s: &str) -> Option<ShadowOp> {
        match s {
            "get" => Some(ShadowOp::Get),
            "update" => Some(ShadowOp::Update),
            "delete" => Some(ShadowOp::Delete),
            _ => None,
        }
    }
}

/// Where the service answers a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShadowReply {
    Accepted,
    Rejected,
    /// `update/delta` only.
    Delta,
    /// `update/documents` only.
    Documents,
}

impl ShadowReply {
    pub fn as_str(self) -> &'static str {
        match self {
            ShadowReply::Accepted => "accepted",
            ShadowReply::Rejected => "rejected",
            ShadowReply::Delta => "delta",
            ShadowReply::Documents => "documents",
        }
    }
}

/// A publish on a shadow request topic: the thing, the shadow (`None` for the classic one)
/// and the operation. The names are as the topic spells them; [`crate::ShadowService`] checks
/// them (a bad one is a 400 on the request's `/rejected` topic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShadowTopic<'a> {
    pub thing: &'a str,
    pub shadow_name: Option<&'a str>,
    pub op: ShadowOp,
}

impl<'a> ShadowTopic<'a> {
    /// The request a topic names, or `None` for any other topic (answer topics such as
    /// `.../update/accepted` included: they are the service's to publish, not requests).
    pub fn parse(topic: &'a str) -> Option<ShadowTopic<'a>> {
        let rest = topic.strip_prefix("$aws/things/")?;
        let (thing, rest) = rest.split_once('/')?;
        let rest = rest.strip_prefix("shadow/")?;
        let (shadow_name, op) = match rest.strip_prefix("name/") {
            Some(named) => {
                let (name, op) = named.split_once('/')?;
                (Some(name), op)
            }
            None => (None, rest),
        };
        if thing.is_empty() || shadow_name.is_some_and(str::is_empty) {
            return None;
        }
        Some(ShadowTopic {
            thing,
            shadow_name,
            op: ShadowOp::parse(op)?,
        })
    }

    /// AWS's `ShadowTopicPrefix` of this shadow.
    pub fn prefix(&self) -> String {
        match self.shadow_name {
            None => format!("$aws/things/{}/shadow", self.thing),
            Some(n) => format!("$aws/things/{}/shadow/name/{n}", self.thing),
        }
    }

    /// The request topic itself.
    pub fn request(&self) -> String {
        format!("{}/{}", self.prefix(), self.op.as_str())
    }

    /// The topic of an answer to this request: `PREFIX/OP/REPLY`.
    pub fn reply(&self, reply: ShadowReply) -> String {
        format!("{}/{}/{}", self.prefix(), self.op.as_str(), reply.as_str())
    }
}

/// Whether `topic` is one of the service's answer topics (`PREFIX/get|update|delete/accepted`
/// or `/rejected`, `PREFIX/update/delta`, `PREFIX/update/documents`): AWS's reserved topics
/// table lists them as Subscribe only, so only the service publishes them; a client's publish
/// there would forge an answer.
pub fn is_answer_topic(topic: &str) -> bool {
    let Some((request, reply)) = topic.rsplit_once('/') else {
        return false;
    };
    matches!(
        (ShadowTopic::parse(request).map(|t| t.op), reply),
        (Some(_), "accepted" | "rejected") | (Some(ShadowOp::Update), "delta" | "documents")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_topics_are_the_services_replies_only() {
        for t in [
            "$aws/things/lamp/shadow/get/accepted",
            "$aws/things/lamp/shadow/delete/rejected",
            "$aws/things/lamp/shadow/update/delta",
            "$aws/things/lamp/shadow/name/s1/update/documents",
        ] {
            assert!(is_answer_topic(t), "{t}");
        }
        for t in [
            "$aws/things/lamp/shadow/update",
            "$aws/things/lamp/shadow/get/delta",
            "$aws/things/lamp/shadow/update/other",
            "$aws/things//shadow/update/accepted",
            "things/lamp/shadow/update/accepted",
            "accepted",
        ] {
            assert!(!is_answer_topic(t), "{t}");
        }
    }

    #[test]
    fn request_topics_parse_and_answer_topics_do_not() {
        let t = ShadowTopic::parse("$aws/things/mySimulatedThing/shadow/name/simShadow1/update")
            .expect("named update");
        assert_eq!(
            t,
            ShadowTopic {
                thing: "mySimulatedThing",
                shadow_name: Some("simShadow1"),
                op: ShadowOp::Update
            }
        );
        assert_eq!(
            t.reply(ShadowReply::Delta),
            "$aws/things/mySimulatedThing/shadow/name/simShadow1/update/delta"
        );
        assert_eq!(
            t.request(),
            "$aws/things/mySimulatedThing/shadow/name/simShadow1/update"
        );
        let c = ShadowTopic::parse("$aws/things/lamp/shadow/get").expect("classic get");
        assert_eq!(
            (c.thing, c.shadow_name, c.op),
            ("lamp", None, ShadowOp::Get)
        );
        assert_eq!(
            c.reply(ShadowReply::Accepted),
            "$aws/things/lamp/shadow/get/accepted"
        );
        let d = ShadowTopic::parse("$aws/things/lamp/shadow/delete").expect("delete");
        assert_eq!(
            d.reply(ShadowReply::Rejected),
            "$aws/things/lamp/shadow/delete/rejected"
        );
        for other in [
            "$aws/things/lamp/shadow/update/accepted",
            "$aws/things/lamp/shadow/update/delta",
            "$aws/things/lamp/shadow/name/s/get/rejected",
            "$aws/things/lamp/shadow/name//get",
            "$aws/things//shadow/get",
            "$aws/things/lamp/shadow/name/s",
            "$aws/things/lamp/shadow/list",
            "$aws/things/lamp/shadow",
            "$aws/rules/r/things/lamp/shadow/get",
            "things/lamp/shadow/get",
        ] {
            assert_eq!(ShadowTopic::parse(other), None, "{other}");
        }
    }
}
