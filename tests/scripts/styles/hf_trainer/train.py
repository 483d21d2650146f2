"""Fine-tuning in the style of a Hugging Face example script: argument dataclasses parsed from
the command line, a Trainer built from them. Written for arrl's tests; it is read, never run."""
from dataclasses import dataclass, field

from transformers import AutoModelForSequenceClassification, AutoTokenizer, HfArgumentParser, Trainer
from transformers import TrainingArguments as HfTrainingArguments


@dataclass
class ModelArguments:
    model_name_or_path: str = field(default="bert-base-uncased", metadata={"help": "checkpoint to start from"})
    cache_dir: str | None = field(default=None)
    hidden_dropout_prob: float = field(default=0.1)
    max_seq_length: int = field(default=128)


@dataclass
class TrainArguments:
    output_dir: str = "runs/glue"
    overwrite_output_dir: bool = False
    learning_rate: float = 5e-5
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    max_grad_norm: float = 1.0
    num_train_epochs: float = 3.0
    warmup_ratio: float = 0.0
    lr_scheduler_type: str = "linear"
    per_device_train_batch_size: int = 32
    per_device_eval_batch_size: int = 64
    gradient_accumulation_steps: int = 1
    label_smoothing_factor: float = 0.0
    seed: int = 42
    bf16: bool = False
    logging_steps: int = 50
    save_steps: int = 500
    eval_steps: int = 500
    dataloader_num_workers: int = 2
    report_to: str = "none"


def main():
    parser = HfArgumentParser((ModelArguments, TrainArguments))
    model_args, train_args = parser.parse_args_into_dataclasses()
    tokenizer = AutoTokenizer.from_pretrained(model_args.model_name_or_path, cache_dir=model_args.cache_dir)
    model = AutoModelForSequenceClassification.from_pretrained(
        model_args.model_name_or_path, hidden_dropout_prob=model_args.hidden_dropout_prob)
    arguments = HfTrainingArguments(**vars(train_args))
    trainer = Trainer(model=model, args=arguments, tokenizer=tokenizer)
    trainer.train()
    metrics = trainer.evaluate()
    print(f"arrl: val_loss={metrics['eval_loss']}")


if __name__ == "__main__":
    main()
