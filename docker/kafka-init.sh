#!/bin/sh
# Creates gatelog's topics once Kafka is healthy (auto-creation is off in docker-compose).
set -eu
BOOT=kafka:9092
P="${GATELOG_KAFKA_PARTITIONS:-6}"
/opt/kafka/bin/kafka-topics.sh --bootstrap-server "$BOOT" --create --if-not-exists --topic gatelog.events --partitions "$P" --replication-factor 1 --config retention.ms=604800000 --config compression.type=producer --config max.message.bytes=67108864
/opt/kafka/bin/kafka-topics.sh --bootstrap-server "$BOOT" --create --if-not-exists --topic gatelog.events.dead-letter --partitions 1 --replication-factor 1 --config retention.ms=2592000000 --config max.message.bytes=67108864
